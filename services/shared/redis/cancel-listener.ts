import type Redis from 'ioredis';
import { connectRedis, isRedisUnavailable } from './connect';
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
  /** Set while start() keeps trying to subscribe (Redis did not answer at first). */
  private subscribing?: Promise<void>;
  private closed = false;

  constructor(
    private readonly url: string,
    queue: string,
  ) {
    this.keys = new RedisKeys(queue);
  }

  /**
   * Subscribes, and keeps trying while Redis does not answer: a worker that starts before its
   * Redis (a fresh install, a Redis pod restarting) starts anyway, unready until Redis answers,
   * instead of exiting and waiting out Kubernetes' restart back-off. Cancellations announced
   * before the subscription holds are missed, as during any Redis outage.
   */
  async start(): Promise<void> {
    // Its own connection: a subscribed connection can run nothing else. No command timeout:
    // it is idle by design, and ioredis re-subscribes after a reconnect.
    const subscriber = connectRedis(this.url, 0);
    subscriber.on('message', (_channel: string, id: string) => {
      this.running.get(id)?.abort(new TaskCancelledError(id));
    });
    this.subscriber = subscriber;
    try {
      await subscriber.subscribe(this.keys.cancelChannel());
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      this.subscribing = this.subscribeWhenRedisAnswers(subscriber);
    }
  }

  private async subscribeWhenRedisAnswers(subscriber: Redis): Promise<void> {
    for (let delay = 250; !this.closed; delay = Math.min(delay * 2, 5000)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        await subscriber.subscribe(this.keys.cancelChannel());
        return;
      } catch (err) {
        if (!isRedisUnavailable(err)) throw err;
      }
    }
  }

  /** Aborts `attempt` if task `id` is cancelled while registered; call the result to unregister. */
  register(id: string, attempt: Abortable): () => void {
    this.running.set(id, attempt);
    return () => {
      if (this.running.get(id) === attempt) this.running.delete(id);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    await this.subscribing?.catch(() => undefined);
  }
}
