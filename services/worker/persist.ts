import { isRedisUnavailable } from '../shared/redis/connect';
import { UnavailableError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { ShutdownInterruption } from './handler-run';

/** Runs a write again until Redis (or Kafka) answers; other errors are thrown at once. */
export type Persist = <T>(write: () => Promise<T>) => Promise<T>;

/**
 * While Redis or Kafka is down, a task's status or retry cannot be written, so the task holds
 * its concurrency slot and its offset stays uncommitted: fetching pauses once every slot waits,
 * and nothing is lost or marked wrongly. Shutdown ends the wait (the task is redelivered).
 */
export function persistent(logger: Logger, shutdown: AbortSignal, maxDelayMs = 5000): Persist {
  return async (write) => {
    for (let delay = 100; ; delay = Math.min(delay * 2, maxDelayMs)) {
      try {
        return await write();
      } catch (err) {
        if (!isRedisUnavailable(err) && !(err instanceof UnavailableError)) throw err;
        if (shutdown.aborted) throw new ShutdownInterruption('(waiting for Redis or Kafka)');
        logger.warn('write failed; retrying until Redis and Kafka answer', {
          error: String(err),
          retryInMs: delay,
        });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
}
