import { errorMessage } from '../shared/errors';
import type { TaskError } from '../shared/task';
import { NonRetriableError } from './handlers';

export interface RetryPolicy {
  /** First retry delay (RETRY_BASE_DELAY_MS, default 1000). */
  baseDelayMs: number;
  /** Longest retry delay (RETRY_MAX_DELAY_MS, default 5 minutes). */
  maxDelayMs: number;
}

/**
 * Exponential backoff with full jitter (a random delay up to base × 2^(attempt-1), capped):
 * tasks that failed together do not all come back together.
 */
export function retryDelayMs(failedAttempt: number, policy: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(failedAttempt - 1, 30));
  return Math.round(Math.max(policy.baseDelayMs / 2, random() * ceiling));
}

/** A handler opts out of retries by throwing NonRetriableError, or any error with `retriable: false`. */
export function isRetriable(err: unknown): boolean {
  if (err instanceof NonRetriableError) return false;
  return (err as { retriable?: unknown } | null)?.retriable !== false;
}

export function toTaskError(err: unknown): TaskError {
  return { name: err instanceof Error ? err.name : 'Error', message: errorMessage(err) };
}
