import { randomUUID } from 'node:crypto';
import { Router, type Request, type RequestHandler } from 'express';
import { batchView, type BatchRecord } from '../../shared/batches/batch';
import { ApiError } from '../../shared/errors';
import { BatchAdmitRefused, type RedisBatchStore } from '../../shared/redis/batch-store';
import type { IdempotencyStore } from '../../shared/redis/idempotency-store';
import type { TaskStore } from '../../shared/redis/task-store';
import type { TaskWatcher } from '../../shared/redis/task-watcher';
import type { JsonValue } from '../../shared/task';
import { seededTaskId } from '../../shared/task-ids';
import { canSee, clientOf, requireScope } from '../auth';
import { UNSUCCESSFUL_PAGE } from '../batches/schemas';
import type { BatchValidator } from '../batches/validation';
import type { ApiEvents } from '../events';
import { requireJson } from '../http';
import { respondIdempotently } from '../idempotency';
import type { LongPolls } from '../long-polls';
import { batchCost, type SubmissionLimit } from '../rate-limit';
import type { BatchAdmission, TaskSubmitter } from '../submit';
import type { TenantBacklog } from '../tenant-backlog';
import type { CheckedItems } from '../validation';
import { inDoubtAsReply, itemsReply, parseWait } from './tasks';

export interface BatchRoutesDeps {
  batches: RedisBatchStore;
  store: Pick<TaskStore, 'cancel'>;
  submitter: TaskSubmitter;
  batchValidator: BatchValidator;
  idempotency: IdempotencyStore;
  watcher: TaskWatcher;
  events: ApiEvents;
  submissionLimit?: SubmissionLimit | undefined;
  backlog: TenantBacklog;
  maxBatchTasks: number;
  longPolls: LongPolls;
}

/**
 * Batches (docs/batches.md): POST creates one (children may come along, or later, until sealed),
 * GET shows its progress and long-polls for its completion, DELETE cancels what has not finished.
 * Another tenant's batch is not found, as its tasks are not.
 */
export function batchesRouter(deps: BatchRoutesDeps): Router {
  const { batches, submitter, batchValidator, idempotency, events } = deps;
  const router = Router();
  const noLimit: RequestHandler = (_req, _res, next) => next();
  // Children cost what POST /v1/tasks/batch's items cost, in rate and in maximum queued.
  const limit = deps.submissionLimit?.charge(batchCost(deps.maxBatchTasks)) ?? noLimit;
  const backlog = deps.backlog.check(batchCost(deps.maxBatchTasks));
  const submit = [requireScope('tasks:submit'), limit, backlog, requireJson];

  const visibleBatch = async (req: Request, id: string): Promise<BatchRecord> => {
    const batch = await batches.get(id);
    if (!batch || !canSee(req.caller, batch.tenant)) throw notFound(id);
    return batch;
  };

  /** Submits checked children into the batch; the answer lists each, as POST /v1/tasks/batch's does. */
  const addChildren = async (req: Request, batchId: string, children: CheckedItems, idSeed?: string) => {
    const { checked, valid, rejected, positions, details } = children;
    const tenant = req.caller.tenant.name;
    if (rejected > 0) events.tasksEnqueued('', 'invalid', rejected, tenant);
    if (valid.length === 0) throw new ApiError(422, 'validation_failed', 'no child task is valid', details());
    // Only what this request counted in is counted out if Kafka never gets it: a retried request
    // (same Idempotency-Key, same ids) must not take out children the first one published.
    let admitted: string[] = [];
    const admission: BatchAdmission = {
      id: batchId,
      admit: async (ids) => {
        try {
          admitted = await batches.admit(batchId, tenant, ids);
        } catch (err) {
          throw err instanceof BatchAdmitRefused ? admitRefusal(batchId, err) : err;
        }
      },
      withdraw: () => batches.withdraw(batchId, admitted),
    };
    const accepted = await inDoubtAsReply(
      submitter.submit(valid, {
        tenant,
        spill: req.caller.tenant.spill,
        idSeed,
        fieldPrefix: (index) => `tasks[${positions[index]}].`,
        batch: admission,
      }),
      (late) => itemsReply(checked, late),
    );
    return itemsReply(checked, accepted);
  };

  const answer = async (batchId: string, status: number, items = itemsReply([], [])) => {
    const batch = await batches.get(batchId);
    return { status, body: { batch: batch && batchView(batch), ...items } as unknown as JsonValue };
  };

  router.post('/v1/batches', ...submit, async (req, res) => {
    await respondIdempotently(idempotency, req, res, async (idSeed) => {
      const creation = batchValidator.creation(req.body, Date.now());
      const id = idSeed === undefined ? randomUUID() : seededTaskId(idSeed, 'batch');
      await batches.create({
        id,
        tenant: req.caller.tenant.name,
        ...(creation.callbackUrl !== undefined && { callbackUrl: creation.callbackUrl }),
        ...(creation.onComplete !== undefined && { onComplete: creation.onComplete }),
        ...(creation.metadata !== undefined && { metadata: creation.metadata }),
      });
      const items = creation.children && (await addChildren(req, id, creation.children, idSeed));
      if (creation.seal) await batches.seal(id);
      res.location(`/v1/batches/${id}`);
      return answer(id, 201, items);
    });
  });

  router.post('/v1/batches/:id/tasks', ...submit, async (req: Request<{ id: string }>, res) => {
    const id = req.params.id;
    await visibleBatch(req, id);
    await respondIdempotently(idempotency, req, res, async (idSeed) => {
      const { children, seal } = batchValidator.children(req.body, Date.now());
      const items = await addChildren(req, id, children, idSeed);
      if (seal) await batches.seal(id);
      return answer(id, 202, items);
    });
  });

  router.post('/v1/batches/:id/seal', requireScope<{ id: string }>('tasks:submit'), async (req, res) => {
    const id = req.params.id;
    await visibleBatch(req, id);
    await batches.seal(id);
    res.json(batchView(await visibleBatch(req, id)));
  });

  router.get('/v1/batches/:id', requireScope<{ id: string }>('tasks:read'), async (req, res) => {
    const id = req.params.id;
    const waitMs = parseWait(req.query.wait);
    const after = parseAfter(req.query.after);
    let batch = await visibleBatch(req, id);
    if (waitMs > 0 && !batch.finishedAt) {
      const leave = deps.longPolls.enter(clientOf(req));
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      const watch = deps.watcher.watchBatch(id);
      try {
        await watch.subscribed;
        batch = await visibleBatch(req, id);
        if (!batch.finishedAt) {
          await watch.finished(waitMs, gone.signal);
          batch = await visibleBatch(req, id);
        }
      } finally {
        watch.close();
        leave();
      }
    }
    const page = await batches.unsuccessful(id, after, UNSUCCESSFUL_PAGE);
    res.json({
      ...batchView(batch),
      unsuccessful: { ids: page.ids, ...(page.next !== undefined && { next: String(page.next) }) },
    });
  });

  router.delete('/v1/batches/:id', requireScope<{ id: string }>('tasks:cancel'), async (req, res) => {
    const id = req.params.id;
    await visibleBatch(req, id);
    // Sealed first, so no child joins while the others are being cancelled.
    await batches.seal(id, { cancel: true });
    const now = new Date();
    for await (const ids of batches.children(id)) {
      await Promise.all(ids.map((child) => deps.store.cancel(child, now)));
    }
    res.json(batchView(await visibleBatch(req, id)));
  });

  return router;
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'batch_not_found', `no batch with id "${id}"`);
}

function admitRefusal(id: string, err: BatchAdmitRefused): ApiError {
  switch (err.reason) {
    case 'sealed':
      return new ApiError(409, 'batch_sealed', `batch "${id}" is sealed; it takes no more children`);
    case 'cancelled':
      return new ApiError(409, 'batch_cancelled', `batch "${id}" was cancelled; it takes no more children`);
    default:
      // Gone (expired) or another tenant's since it was looked up.
      return notFound(id);
  }
}

/** `?after=N`: where the page of unsuccessful children starts (a previous page's `next`). */
function parseAfter(raw: unknown): number {
  if (raw === undefined) return 0;
  if (typeof raw === 'string' && /^\d{1,9}$/.test(raw)) return Number(raw);
  throw new ApiError(422, 'validation_failed', 'the after parameter is not valid', [
    { field: 'after', message: 'the `next` of a previous page' },
  ]);
}
