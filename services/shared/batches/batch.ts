import type { TaskPriority } from '../lanes/priority';
import type { JsonValue } from '../task';
import { seededTaskId } from '../task-ids';

/**
 * A batch: child tasks that complete together. Children join it until it is sealed; it completes
 * once it is sealed and every child is terminal, exactly once (services/shared/redis/batch-script.ts),
 * and then its callback is sent, its onComplete task runs, and a parent waiting for it finishes.
 */
export interface BatchRecord {
  id: string;
  tenant: string;
  createdAt: Date;
  sealedAt?: Date;
  finishedAt?: Date;
  /** When DELETE cancelled it (it is sealed then, and completes once its children are terminal). */
  cancelledAt?: Date;
  /** Children admitted. */
  total: number;
  /** Children terminal, by outcome. */
  succeeded: number;
  failed: number;
  cancelled: number;
  callbackUrl?: string;
  /** The task submitted once the batch completes (a task submission, validated at creation). */
  onComplete?: OnCompleteTemplate;
  /** Anything the client attached; shown as given. */
  metadata?: JsonValue;
  /** The task that spawned it as its children (ctx.spawn), when it waits for them. */
  parent?: string;
  /** That parent's callbackUrl: its callback goes out when it finishes, with the batch. */
  parentCallbackUrl?: string;
  /** How the completion callback went. */
  callback?: JsonValue;
}

/**
 * The onComplete task as the client described it, checked like any submission when the batch was
 * created; its delay counts from the batch's completion.
 */
export interface OnCompleteTemplate {
  type: string;
  payload: JsonValue;
  maxAttempts: number;
  key?: string;
  timeoutMs?: number;
  callbackUrl?: string;
  priority?: TaskPriority;
  delayMs?: number;
}

export type BatchStatus = 'open' | 'sealed' | 'finished';

export function batchStatus(batch: Pick<BatchRecord, 'sealedAt' | 'finishedAt'>): BatchStatus {
  return batch.finishedAt ? 'finished' : batch.sealedAt ? 'sealed' : 'open';
}

/** The id of the batch of children a task spawns: the same for every attempt of the task. */
export function childrenBatchId(parentId: string): string {
  return seededTaskId(`task:${parentId}`, 'children');
}

/** The seed of the task ids a batch gives rise to (its onComplete task: seededTaskId(seed, 'on-complete')). */
export function batchSeed(batchId: string): string {
  return `batch:${batchId}`;
}

/**
 * A batch as the API shows it and its callback and onComplete task receive it (schemas.ts
 * batchSchema): ISO 8601 times, absent ones null.
 */
export function batchView(batch: BatchRecord) {
  const iso = (date?: Date) => date?.toISOString() ?? null;
  const done = batch.succeeded + batch.failed + batch.cancelled;
  return {
    id: batch.id,
    tenant: batch.tenant,
    status: batchStatus(batch),
    total: batch.total,
    done,
    pending: Math.max(0, batch.total - done),
    counts: { succeeded: batch.succeeded, failed: batch.failed, cancelled: batch.cancelled },
    progress: batch.total === 0 ? (batch.finishedAt ? 1 : 0) : done / batch.total,
    createdAt: iso(batch.createdAt),
    sealedAt: iso(batch.sealedAt),
    finishedAt: iso(batch.finishedAt),
    cancelledAt: iso(batch.cancelledAt),
    metadata: batch.metadata ?? null,
    ...(batch.parent !== undefined && { parent: batch.parent }),
    ...(batch.onComplete !== undefined && { onComplete: batch.onComplete }),
    ...(batch.callbackUrl !== undefined && { callbackUrl: batch.callbackUrl }),
    ...(batch.callback !== undefined && { callback: batch.callback }),
  };
}
