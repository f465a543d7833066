/**
 * How long a worker's stop can take at worst, step by step (main.ts runs them in this order), so
 * the chart's terminationGracePeriodSeconds can cover all of it: a SIGKILL in the middle of a
 * drain would leave tasks running with nothing to commit them.
 */

/** Longest the scheduler may take to leave its group; its sends are short. */
export const SCHEDULER_STOP_TIMEOUT_MS = 10_000;

/**
 * Beyond SHUTDOWN_TIMEOUT_MS, how long the task consumer's stop may take: abandoning handlers
 * that ignore their signal (a second), committing, leaving the group.
 */
export const WORKER_STOP_MARGIN_MS = 5000;

/** The worst case of a worker's stop with this SHUTDOWN_TIMEOUT_MS, disconnects aside. */
export function worstStopMs(shutdownTimeoutMs: number): number {
  return SCHEDULER_STOP_TIMEOUT_MS + shutdownTimeoutMs + WORKER_STOP_MARGIN_MS;
}
