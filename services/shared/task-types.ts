import type { JsonValue } from './task';

/**
 * Task type → payload, typed once for the API and the worker. The built-in demo types let
 * behaviour be shown without writing a handler.
 */
export interface TaskPayloads {
  /** Succeeds with the payload as its result. */
  echo: JsonValue;
  /** Waits `ms` milliseconds, then succeeds. */
  sleep: { ms: number };
  /** Always throws, with `message` if given. */
  fail: { message?: string };
  /** Fails its first `failTimes` attempts (default 1), then succeeds. */
  flaky: { failTimes?: number };
  /** Bounded CPU work: `iterations` (default 1,000,000, at most 50,000,000). */
  cpu: { iterations?: number };
}

export type BuiltInTaskType = keyof TaskPayloads;

/**
 * Task types every worker runs, demo handlers on or off, and every API accepts whatever
 * TASK_TYPES says: `spillway.ping` succeeds at once with `{"pong": true}` (what `helm test` sends
 * through the whole path, as `celery.ping` does for Celery).
 */
export const OPERATIONAL_TASK_TYPES = ['spillway.ping'] as const;
