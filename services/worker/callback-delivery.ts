import { batchView } from '../shared/batches/batch';
import type { RedisBatchStore } from '../shared/redis/batch-store';
import type { OutboxEntry } from '../shared/redis/callback-outbox';
import type { TaskStore } from '../shared/redis/task-store';
import { taskView } from '../shared/task-view';
import type { CallbackOutcome, CallbackSender } from './callbacks';
import { ShutdownInterruption } from './handler-run';

export interface CallbackDeliveryDeps {
  store: Pick<TaskStore, 'get' | 'recordCallback'>;
  batches: Pick<RedisBatchStore, 'get' | 'unsuccessful' | 'recordCallback'>;
  callbacks: Pick<CallbackSender, 'send'>;
  shutdown: AbortSignal;
}

/** Ids of failed or cancelled children a batch's callback lists; GET /v1/batches/:id pages the rest. */
const UNSUCCESSFUL_IN_CALLBACK = 100;

/**
 * Sends one outbox entry's callback: a finished task's record, or a completed batch as GET shows
 * it. Skipped when its subject is gone or its callback was delivered already (an entry written
 * twice: a task redelivered after a crash).
 */
export function callbackDelivery(deps: CallbackDeliveryDeps): (entry: OutboxEntry) => Promise<void> {
  const { store, batches, callbacks, shutdown } = deps;
  /** Cut short by shutdown: left unsettled, so another worker sends it (at least once). */
  const settled = (outcome: CallbackOutcome, id: string) => {
    if (!outcome.delivered && shutdown.aborted) throw new ShutdownInterruption(id);
    return { ...outcome, at: new Date(outcome.at).toISOString() };
  };
  return async (entry) => {
    if (entry.batchId !== undefined) {
      const batch = await batches.get(entry.batchId);
      if (!batch || batch.callback !== undefined) return;
      const page = await batches.unsuccessful(batch.id, 0, UNSUCCESSFUL_IN_CALLBACK);
      const body = { ...batchView(batch), unsuccessful: page };
      const outcome = await callbacks.send(entry.url, body, shutdown, 'batch');
      await batches.recordCallback(batch.id, settled(outcome, batch.id));
      return;
    }
    const record = await store.get(entry.taskId);
    if (!record || record.callback !== undefined) return;
    const outcome = await callbacks.send(entry.url, taskView(record), shutdown);
    await store.recordCallback(entry.taskId, settled(outcome, entry.taskId));
  };
}
