import { createHash } from 'node:crypto';

/**
 * A UUID (version 8: vendor-defined) made from a seed and a place: the same seed and place give
 * the same id on every process and every retry, so a task published twice under it runs once.
 * Used for Idempotency-Key retries (the place is the task's index in its request), a batch's
 * onComplete task, a parent's spawned children and a schedule's ticks.
 */
export function seededTaskId(seed: string, place: number | string): string {
  const bytes = createHash('sha256').update(`${seed}/${place}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}
