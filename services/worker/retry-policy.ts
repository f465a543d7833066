import { errorMessage } from '../shared/errors';
import type { AttemptFailure, TaskError } from '../shared/task';
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

/**
 * Longest error name and message kept (characters). Errors travel in every retry's message and
 * in the dead letter: unbounded, a handler's huge message could make them too large for Kafka.
 */
const MAX_ERROR_NAME = 128;
const MAX_ERROR_MESSAGE = 2048;

/** Failed attempts a task carries in its history: the most recent ones. */
export const MAX_HISTORY = 20;

export function toTaskError(err: unknown): TaskError {
  return {
    name: cut(err instanceof Error ? err.name : 'Error', MAX_ERROR_NAME),
    message: cut(errorMessage(err), MAX_ERROR_MESSAGE),
  };
}

/** The history a task carries on: the last MAX_HISTORY failures. */
export function boundedHistory(failures: AttemptFailure[]): AttemptFailure[] {
  return failures.length <= MAX_HISTORY ? failures : failures.slice(-MAX_HISTORY);
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
