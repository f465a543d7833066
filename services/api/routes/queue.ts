import Ajv2020 from 'ajv/dist/2020';
import { Router, type Request } from 'express';
import { ApiError, type ErrorDetail } from '../../shared/errors';
import type { PauseScope, PauseState, PauseStore } from '../../shared/redis/pause-store';
import { requireScope } from '../auth';
import type { AutoscalerSync } from '../autoscaler-sync';
import { pauseRequestSchema } from '../queue-schema';
import { LIMITS } from '../schemas';

export interface QueueRoutesDeps {
  pauses: Pick<PauseStore, 'read' | 'pause' | 'resume'>;
  autoscaler: Pick<AutoscalerSync, 'apply'>;
  /** When set, only these task types may be paused (TASK_TYPES and the operational types). */
  allowedTypes?: ReadonlySet<string>;
}

const checkScope = new Ajv2020({ allErrors: true, strict: true }).compile(pauseRequestSchema);

/**
 * GET /v1/queue, POST /v1/queue/pause and /resume: pausing stops the workers starting tasks of
 * the scope within a second (they hear it on Redis pub/sub), and pauses the workers' autoscaler
 * while anything is paused. Queue-wide operations: `admin` only.
 */
export function queueRouter(deps: QueueRoutesDeps): Router {
  const router = Router();
  router.get('/v1/queue', requireScope('admin'), async (_req, res) => {
    res.json(view(await deps.pauses.read()));
  });
  for (const verb of ['pause', 'resume'] as const) {
    router.post(`/v1/queue/${verb}`, requireScope('admin'), async (req, res) => {
      const scope = scopeOf(req, deps.allowedTypes);
      const state = await deps.pauses[verb](scope);
      res.json({ ...view(state), ...(await deps.autoscaler.apply(state)) });
    });
  }
  return router;
}

/** The scope a pause or resume names; no body is the whole queue. 422 naming the field at fault. */
function scopeOf(req: Request, allowedTypes: ReadonlySet<string> | undefined): PauseScope {
  const empty = !req.get('transfer-encoding') && Number(req.get('content-length') ?? 0) === 0;
  if (empty) return {};
  if (!req.is('application/json')) {
    throw new ApiError(415, 'unsupported_media_type', 'send the body as application/json', [
      { field: 'Content-Type', message: `got "${req.get('content-type') ?? 'none'}"` },
    ]);
  }
  const body: unknown = req.body;
  if (!checkScope(body)) {
    const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
    const details: ErrorDetail[] = !isObject
      ? [{ field: 'body', message: 'must be a JSON object' }]
      : (checkScope.errors ?? []).map((e) =>
          e.keyword === 'additionalProperties'
            ? { field: String(e.params.additionalProperty), message: 'unknown field' }
            : {
                field: 'type',
                message: `a task type: 1 to ${LIMITS.typeLength} characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit`,
              },
        );
    throw new ApiError(422, 'validation_failed', 'the pause scope is not valid', details);
  }
  const { type } = body as { type?: string };
  if (type !== undefined && allowedTypes && !allowedTypes.has(type)) {
    throw new ApiError(422, 'validation_failed', 'the pause scope is not valid', [
      { field: 'type', message: `unknown task type "${type}"` },
    ]);
  }
  return type === undefined ? {} : { type };
}

function view(state: PauseState) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    paused: state.queue !== undefined,
    pausedAt: state.queue === undefined ? null : iso(state.queue),
    pausedTypes: [...state.types]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([type, at]) => ({ type, pausedAt: iso(at) })),
  };
}
