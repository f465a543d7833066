import { RedisKeys } from './keys';
import { RedisWorkStream, type StreamEntry } from './work-stream';

/**
 * One callback to deliver: the task or batch whose outcome it reports, and where. Tasks' entries
 * are written by the worker that finished the task; batches' by the script that completed the
 * batch (batch-script.ts), in the same call.
 */
export type OutboxEntry = { entryId: string; url: string } & (
  { taskId: string; batchId?: undefined } | { batchId: string; taskId?: undefined }
);

/**
 * The completion callbacks waiting for delivery: a work stream (see RedisWorkStream) any worker
 * delivers from, so every callback goes out at least once.
 */
export class CallbackOutbox {
  private readonly stream: RedisWorkStream;

  constructor(url: string, queue: string) {
    this.stream = new RedisWorkStream(url, new RedisKeys(queue).callbackOutbox(), 'deliverers');
  }

  async enqueue(taskId: string, url: string): Promise<void> {
    await this.stream.add({ task: taskId, url });
  }

  async take(consumer: string, count: number, blockMs: number): Promise<OutboxEntry[]> {
    return (await this.stream.take(consumer, count, blockMs)).map(toEntry);
  }

  async claimAbandoned(consumer: string, idleMs: number, count: number): Promise<OutboxEntry[]> {
    return (await this.stream.claimAbandoned(consumer, idleMs, count)).map(toEntry);
  }

  release(consumer: string, entryIds: string[], idleMs: number): Promise<void> {
    return this.stream.release(consumer, entryIds, idleMs);
  }

  settle(entryId: string): Promise<void> {
    return this.stream.settle(entryId);
  }

  waiting(): Promise<number> {
    return this.stream.waiting();
  }

  close(): Promise<void> {
    return this.stream.close();
  }
}

function toEntry({ entryId, fields }: StreamEntry): OutboxEntry {
  const url = fields.url ?? '';
  return fields.batch !== undefined
    ? { entryId, url, batchId: fields.batch }
    : { entryId, url, taskId: fields.task ?? '' };
}
