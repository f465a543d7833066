import type { DelayTier } from './names';

/**
 * Delayed tasks wait in Kafka, not in memory or Redis, so a scheduled task is as durable as any
 * other. A topic can only be read in order, so each delay tier holds messages for one fixed time:
 * within a tier, publication order is release order and nothing waits behind a later message.
 * A long delay hops down the tiers (1 h, 10 min, 1 min, 10 s, 1 s) until it is due.
 */
export const RELEASE_AT_HEADER = 'spillway-release-at';

export interface DelayPlan {
  topic: string;
  /** Epoch ms at which the scheduler takes the message out of the tier again. */
  releaseAt: number;
}

/**
 * Where a task due at `runAt` waits now; undefined when it is due. The longest tier that does
 * not overshoot `runAt` is chosen; below the shortest tier the message waits there until `runAt`
 * itself (at worst one shortest-tier delay late, when messages queue behind each other).
 */
export function planDelay(runAt: number, now: number, tiers: readonly DelayTier[]): DelayPlan | undefined {
  const remaining = runAt - now;
  if (remaining <= 0) return undefined;
  const fitting = tiers.filter((tier) => tier.delayMs <= remaining);
  const tier = fitting.at(-1) ?? tiers[0];
  if (!tier) throw new Error('no delay tiers configured');
  return { topic: tier.topic, releaseAt: Math.min(now + tier.delayMs, runAt) };
}
