import type Redis from 'ioredis';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';

/**
 * Lets long-polls wait for a task to finish without polling Redis: the transition script
 * publishes on the task's channel when it finishes, and one subscriber connection per process
 * serves every waiting request.
 */
/** One wait for a finish; see TaskWatcher.watch. */
export interface Watch {
  subscribed: Promise<void>;
  finished(ms: number, signal: AbortSignal): Promise<void>;
  close(): void;
}

export class TaskWatcher {
  private readonly keys: RedisKeys;
  private subscriber?: Redis;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly url: string,
    queue: string,
  ) {
    this.keys = new RedisKeys(queue);
  }

  /**
   * Starts listening for `id` to finish. Await `subscribed` before reading the record, so a finish
   * between the read and the wait is not missed; then await `finished(ms, signal)`; always `close()`.
   */
  watch(id: string): Watch {
    return this.watchChannel(this.keys.finishedChannel(id));
  }

  /** As watch, for a batch's completion (the batch script announces it on its own channel). */
  watchBatch(id: string): Watch {
    return this.watchChannel(this.keys.batchFinishedChannel(id));
  }

  private watchChannel(channel: string): Watch {
    let wake: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const set = this.waiters.get(channel) ?? new Set();
    set.add(wake);
    this.waiters.set(channel, set);
    const subscriber = this.connection();
    const subscribed =
      set.size === 1 ? subscriber.subscribe(channel).then(() => undefined) : Promise.resolve();
    return {
      subscribed,
      finished: (ms, signal) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          const done = () => {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            resolve();
          };
          signal.addEventListener('abort', done);
          void woken.then(done);
        }),
      close: () => {
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(channel) === set) {
          this.waiters.delete(channel);
          subscriber.unsubscribe(channel).catch(() => undefined);
        }
      },
    };
  }

  async close(): Promise<void> {
    for (const set of this.waiters.values()) for (const wake of set) wake();
    this.waiters.clear();
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  private connection(): Redis {
    if (!this.subscriber) {
      // A subscribed connection can run nothing else, so it is its own; no command timeout, as a
      // SUBSCRIBE connection is idle by design.
      const subscriber = connectRedis(this.url, 0);
      subscriber.on('message', (channel: string) => {
        for (const wake of this.waiters.get(channel) ?? []) wake();
      });
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }
}
