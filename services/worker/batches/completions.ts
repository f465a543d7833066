import { batchSeed, batchView, type BatchRecord } from '../../shared/batches/batch';
import { enqueueTasks, type EnqueueDeps } from '../../shared/enqueue-tasks';
import type { Logger } from '../../shared/logger';
import type { RedisBatchStore } from '../../shared/redis/batch-store';
import type { TaskStore } from '../../shared/redis/task-store';
import type { RedisWorkStream, StreamEntry } from '../../shared/redis/work-stream';
import type { JsonValue, TaskMessage } from '../../shared/task';
import { seededTaskId } from '../../shared/task-ids';
import { DEFAULT_TENANT } from '../../shared/tenancy/tenant';

/** What the worker reports about completed batches; metrics.ts turns these into Prometheus series. */
export interface BatchEvents {
  /** A batch's completion was handled: from its creation to its last child, and how many children. */
  batchCompleted(seconds: number, children: number): void;
}

export interface BatchCompletionDeps {
  stream: Pick<RedisWorkStream, 'take' | 'claimAbandoned' | 'settle' | 'release'>;
  batches: Pick<RedisBatchStore, 'get'>;
  enqueue: EnqueueDeps;
  /** Where a waiting parent's record is, and its callback goes. */
  parents: Pick<TaskStore, 'get' | 'transition'>;
  queueCallback(taskId: string, url: string): Promise<void>;
  events: BatchEvents;
  logger: Logger;
  /** This worker process, as the stream's consumer. */
  consumer: string;
  /** A completion another worker took and left this long is taken over. */
  claimIdleMs: number;
}

/** How long one read of the stream waits for a completion. */
const READ_BLOCK_MS = 1000;
const RETRY_MS = 1000;

/**
 * The work a batch's completion leaves (batch-script.ts writes one entry per completed batch):
 * its onComplete task is submitted, under an id derived from the batch, so a worker that dies
 * after submitting and before settling makes the next one submit the same task again, which the
 * workers run once. The callback goes through the callback outbox, written by the same script.
 */
export class BatchCompletions {
  private running = false;
  private loop?: Promise<void>;
  private readonly unsettled = new Set<string>();
  private lastClaim = 0;

  constructor(private readonly deps: BatchCompletionDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the completion in hand and hands back any taken and not settled. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    const { stream, consumer, claimIdleMs, logger } = this.deps;
    await stream
      .release(consumer, [...this.unsettled], claimIdleMs)
      .catch((err: unknown) =>
        logger.warn('batch completions not handed back', { count: this.unsettled.size, error: String(err) }),
      );
  }

  private async run(): Promise<void> {
    const { stream, consumer, claimIdleMs, logger } = this.deps;
    while (this.running) {
      try {
        const entries: StreamEntry[] = [];
        if (Date.now() - this.lastClaim >= claimIdleMs / 2) {
          this.lastClaim = Date.now();
          entries.push(...(await stream.claimAbandoned(consumer, claimIdleMs, 100)));
        }
        entries.push(...(await stream.take(consumer, 100, READ_BLOCK_MS)));
        for (const entry of entries) {
          if (!this.running) break; // left for release()
          this.unsettled.add(entry.entryId);
          await this.complete(entry.fields.batch ?? '');
          await stream.settle(entry.entryId);
          this.unsettled.delete(entry.entryId);
        }
      } catch (err) {
        logger.warn('batch completion not handled; trying again', { error: String(err) });
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  private async complete(batchId: string): Promise<void> {
    const batch = await this.deps.batches.get(batchId);
    // Expired since it completed: nothing left to act on.
    if (!batch?.finishedAt) return;
    if (batch.onComplete) await enqueueTasks(this.deps.enqueue, [onCompleteTask(batch)]);
    if (batch.parent) await this.finishParent(batch, batch.parent);
    this.deps.events.batchCompleted(
      (batch.finishedAt.getTime() - batch.createdAt.getTime()) / 1000,
      batch.total,
    );
    this.deps.logger.info('batch completed', {
      batch: batch.id,
      children: batch.total,
      failed: batch.failed,
      cancelled: batch.cancelled,
    });
  }

  /**
   * A parent waiting for these children finishes with them: succeeded (keeping its handler's
   * result) if every child succeeded, else failed. Done twice (a completion taken over from a
   * worker that died), the second transition finds it finished and changes nothing.
   */
  private async finishParent(batch: BatchRecord, parentId: string): Promise<void> {
    const parent = await this.deps.parents.get(parentId);
    if (parent?.status !== 'waiting-children') return; // cancelled, or a later attempt did not wait
    const unsuccessful = batch.failed + batch.cancelled;
    await this.deps.parents.transition({
      id: parent.id,
      type: parent.type,
      createdAt: parent.createdAt,
      ...(parent.tenant !== undefined && { tenant: parent.tenant }),
      attempt: parent.attempts,
      at: new Date(),
      ...(unsuccessful === 0
        ? { status: 'succeeded' as const }
        : {
            status: 'failed' as const,
            error: {
              name: 'ChildTasksFailed',
              message: `${unsuccessful} of ${batch.total} children failed or were cancelled (batch ${batch.id})`,
            },
          }),
    });
    if (batch.parentCallbackUrl) await this.deps.queueCallback(parent.id, batch.parentCallbackUrl);
  }
}

/**
 * The batch's onComplete task: the template's fields, its id derived from the batch, and the
 * payload `{ batch, payload }` (the finished batch as GET shows it, and the template's payload).
 */
export function onCompleteTask(batch: BatchRecord): TaskMessage {
  const { payload, delayMs, ...fields } = batch.onComplete!;
  const enqueuedAt = batch.finishedAt!.getTime();
  return {
    ...fields,
    id: seededTaskId(batchSeed(batch.id), 'on-complete'),
    payload: { batch: batchView(batch), payload } as unknown as JsonValue,
    enqueuedAt,
    ...(delayMs !== undefined && { runAt: enqueuedAt + delayMs }),
    ...(batch.tenant !== DEFAULT_TENANT && { tenant: batch.tenant }),
  };
}
