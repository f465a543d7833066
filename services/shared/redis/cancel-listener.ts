import type Redis from 'ioredis';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';

/** A running task's abort (an AbortController is one): what a cancellation calls. */
export interface Abortable {
  abort(reason: unknown): void;
}

/** Why a running task's signal was aborted by a DELETE /v1/tasks/:id. */
export class TaskCancelledError extends Error {
  constructor(id: string) {
    super(`task ${id} was cancelled`);
    this.name = 'TaskCancelledError';
  }
}

/**
 * The receiving end of cancellation: the API announces a cancelled running task on the queue's
 * cancel channel, and whichever worker runs it aborts the handler's signal. Workers that do not
 * run it ignore the message.
 */
export class CancelListener {
  private readonly keys: RedisKeys;
  private subscriber?: Redis;
  private readonly running = new Map<string, Abortable>();

  constructor(
    private readonly url: string,
    queue: string,
  ) {
    this.keys = new RedisKeys(queue);
  }

  async start(): Promise<void> {
    // Its own connection: a subscribed connection can run nothing else. No command timeout:
    // it is idle by design, and ioredis re-subscribes after a reconnect.
    const subscriber = connectRedis(this.url, 0);
    subscriber.on('message', (_channel: string, id: string) => {
      this.running.get(id)?.abort(new TaskCancelledError(id));
    });
    this.subscriber = subscriber;
    await subscriber.subscribe(this.keys.cancelChannel());
  }

  /** Aborts `attempt` if task `id` is cancelled while registered; call the result to unregister. */
  register(id: string, attempt: Abortable): () => void {
    this.running.set(id, attempt);
    return () => {
      if (this.running.get(id) === attempt) this.running.delete(id);
    };
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }
}
