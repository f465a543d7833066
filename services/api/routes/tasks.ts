import { Router, type Request, type RequestHandler } from 'express';
import { ApiError } from '../../shared/errors';
import type { IdempotencyStore } from '../../shared/redis/idempotency-store';
import type { TaskStore } from '../../shared/redis/task-store';
import type { TaskWatcher } from '../../shared/redis/task-watcher';
import { TERMINAL_STATUSES, type JsonValue } from '../../shared/task';
import type { ApiEvents } from '../events';
import { canSee, clientOf, requireScope } from '../auth';
import type { LongPolls } from '../long-polls';
import { requireJson } from '../http';
import { ReplyInDoubt, respondIdempotently } from '../idempotency';
import { batchCost, type SubmissionLimit } from '../rate-limit';
import { LIMITS } from '../schemas';
import { SubmissionInDoubt, type Accepted, type TaskSubmitter } from '../submit';
import { taskView } from '../../shared/task-view';
import { tenantOf } from '../../shared/tenancy/tenant';
import type { TaskRecord } from '../../shared/task';
import type { TenantBacklog } from '../tenant-backlog';
import type { CheckedItem, Submission, Validator } from '../validation';

export interface TaskRoutesDeps {
  store: TaskStore;
  submitter: TaskSubmitter;
  validator: Validator;
  idempotency: IdempotencyStore;
  watcher: TaskWatcher;
  events: ApiEvents;
  /** Per-key submission rate limit; absent: none (RATE_LIMIT_PER_SECOND 0). */
  submissionLimit?: SubmissionLimit;
  /** Each tenant's maximum queued. */
  backlog: TenantBacklog;
  maxBatchTasks: number;
  longPolls: LongPolls;
}

/** Routes carry their full path, so `req.route.path` is the template metrics label requests with. */
export function tasksRouter(deps: TaskRoutesDeps): Router {
  const { store, submitter, validator, idempotency, watcher, events, submissionLimit } = deps;
  const router = Router();
  const noLimit: RequestHandler = (_req, _res, next) => next();
  // Charged before validation: invalid submissions cost their sender too.
  const limitOne = submissionLimit?.charge(() => 1) ?? noLimit;
  const limitBatch = submissionLimit?.charge(batchCost(deps.maxBatchTasks)) ?? noLimit;

  const submit = requireScope('tasks:submit');

  /** The record, if it exists and the caller may see it: another tenant's task is not found. */
  const visibleRecord = async (req: Request, id: string): Promise<TaskRecord | undefined> => {
    const record = await store.get(id);
    return record && canSee(req.caller, tenantOf(record)) ? record : undefined;
  };

  const backlogOne = deps.backlog.check(() => 1);
  const backlogBatch = deps.backlog.check(batchCost(deps.maxBatchTasks));

  router.post('/v1/tasks', submit, limitOne, backlogOne, requireJson, async (req, res) => {
    await respondIdempotently(idempotency, req, res, async (idSeed) => {
      let submission;
      try {
        submission = validator.submission(req.body, Date.now());
      } catch (err) {
        // An invalid body's type is not trusted as a label value.
        events.tasksEnqueued('', 'invalid', 1, req.caller.tenant.name);
        throw err;
      }
      const { name: tenant, spill } = req.caller.tenant;
      const submitting = submitter.submit([submission], { tenant, spill, idSeed });
      const [accepted] = await inDoubtAsReply(submitting, ([late]) => late);
      res.location(`/v1/tasks/${accepted!.id}`);
      return { status: 202, body: accepted as unknown as JsonValue };
    });
  });

  router.post('/v1/tasks/batch', submit, limitBatch, backlogBatch, requireJson, async (req, res) => {
    await respondIdempotently(idempotency, req, res, async (idSeed) => {
      const { checked, valid, rejected, positions, details } = validator.items(
        validator.batch(req.body),
        Date.now(),
      );
      if (rejected > 0) events.tasksEnqueued('', 'invalid', rejected, req.caller.tenant.name);
      if (valid.length === 0)
        throw new ApiError(422, 'validation_failed', 'no task in the batch is valid', details());
      // One Kafka round trip for every valid item; if Kafka fails, the whole request is a 503.
      const batchReply = (accepted: Accepted[]) => itemsReply(checked, accepted);
      const accepted = await inDoubtAsReply(
        submitter.submit(valid, {
          tenant: req.caller.tenant.name,
          spill: req.caller.tenant.spill,
          idSeed,
          fieldPrefix: (index) => `tasks[${positions[index]}].`,
        }),
        batchReply,
      );
      return { status: 202, body: batchReply(accepted) as unknown as JsonValue };
    });
  });

  router.get('/v1/tasks/:id', requireScope<{ id: string }>('tasks:read'), async (req, res) => {
    const id = req.params.id;
    const waitMs = parseWait(req.query.wait);
    let record = await visibleRecord(req, id);
    if (!record) throw notFound(id);
    if (waitMs > 0 && !TERMINAL_STATUSES.has(record.status)) {
      const leave = deps.longPolls.enter(clientOf(req));
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      let watch;
      try {
        watch = watcher.watch(id);
        await watch.subscribed;
        record = (await store.get(id)) ?? record;
        if (!TERMINAL_STATUSES.has(record.status)) {
          await watch.finished(waitMs, gone.signal);
          record = (await store.get(id)) ?? record;
        }
      } finally {
        watch?.close();
        leave();
      }
    }
    res.json(taskView(record));
  });

  // Runs a task again as a new one with the same submission, whatever became of the first; the
  // new record names it (replayOf). An admin's re-run is the task's tenant's, as a dead letter's.
  router.post('/v1/tasks/:id/replay', submit, limitOne, backlogOne, async (req, res) => {
    const id = String(req.params.id);
    await respondIdempotently(idempotency, req, res, async (idSeed) => {
      const record = await visibleRecord(req, id);
      if (!record) throw notFound(id);
      const spec = record.spec;
      if (spec?.payload === undefined) {
        throw new ApiError(
          409,
          'payload_not_kept',
          spec?.payloadBytes !== undefined
            ? `task "${id}"'s payload (${spec.payloadBytes} bytes) was too large to keep in its record`
            : `task "${id}"'s record does not hold what it was submitted with`,
        );
      }
      const submission: Submission = {
        type: record.type,
        payload: spec.payload,
        maxAttempts: spec.maxAttempts,
        ...(record.key !== undefined && { key: record.key }),
        ...(spec.timeoutMs !== undefined && { timeoutMs: spec.timeoutMs }),
        ...(spec.callbackUrl !== undefined && { callbackUrl: spec.callbackUrl }),
        ...(record.priority !== undefined && { priority: record.priority }),
      };
      const tenant = tenantOf(record);
      const spill = req.caller.tenant.name === tenant ? req.caller.tenant.spill : undefined;
      const submitting = submitter.submit([submission], { tenant, spill, idSeed, replayOf: id });
      const [accepted] = await inDoubtAsReply(submitting, ([late]) => ({ ...late!, replayOf: id }));
      res.location(`/v1/tasks/${accepted!.id}`);
      return { status: 202, body: { ...accepted!, replayOf: id } as unknown as JsonValue };
    });
  });

  router.delete('/v1/tasks/:id', requireScope<{ id: string }>('tasks:cancel'), async (req, res) => {
    const id = req.params.id;
    // Checked first: another tenant's task is not found, and must not be cancelled.
    if (!(await visibleRecord(req, id))) throw notFound(id);
    const outcome = await store.cancel(id, new Date());
    if (!outcome.applied && !outcome.current) throw notFound(id);
    if (!outcome.applied) {
      throw new ApiError(
        409,
        'task_finished',
        `task "${id}" already ${outcome.current}; it cannot be cancelled`,
      );
    }
    const record = await store.get(id);
    if (!record) throw notFound(id);
    res.json(taskView(record));
  });

  return router;
}

/** A batch of items' answer: each accepted task, or why its item was rejected, in order. */
export function itemsReply(checked: CheckedItem[], accepted: Accepted[]) {
  let next = 0;
  const results = checked.map((c) => (c.submission ? accepted[next++] : { error: c.error }));
  return { accepted: accepted.length, rejected: checked.length - accepted.length, results };
}

/** Lets the idempotency layer learn what an in-doubt submission finally became. */
export async function inDoubtAsReply(
  submitting: Promise<Accepted[]>,
  toBody: (accepted: Accepted[]) => unknown,
) {
  try {
    return await submitting;
  } catch (err) {
    if (!(err instanceof SubmissionInDoubt)) throw err;
    const eventual = err.outcome.then((late) =>
      late ? { status: 202, body: toBody(late) as JsonValue } : undefined,
    );
    throw new ReplyInDoubt(err.message, eventual);
  }
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'task_not_found', `no task with id "${id}"`);
}

/** `?wait=N`: seconds to long-poll, capped at LIMITS.waitSeconds; absent means no wait. */
export function parseWait(raw: unknown): number {
  if (raw === undefined) return 0;
  const seconds = typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (Number.isNaN(seconds)) {
    throw new ApiError(422, 'validation_failed', 'the wait parameter is not valid', [
      { field: 'wait', message: `seconds to wait: a number from 0 (capped at ${LIMITS.waitSeconds})` },
    ]);
  }
  return Math.min(seconds, LIMITS.waitSeconds) * 1000;
}
