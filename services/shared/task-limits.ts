/**
 * Bounds of a task submission: the API's schemas enforce them and the CLI checks its options
 * against them, so both refuse the same values and name the same limits.
 */
export const TASK_LIMITS = {
  typeLength: 128,
  keyLength: 256,
  maxAttempts: 100,
  timeoutMs: 24 * 3600_000,
  /** The furthest ahead a task may be scheduled. */
  delayMs: 30 * 24 * 3600_000,
  callbackUrlLength: 2048,
} as const;
