/**
 * Priorities and lanes. A task asks for a priority; it waits in a lane. Each lane has its own
 * topic and consumer group (names.ts), so a backlog in one lane never stands in front of
 * another's tasks; workers take from the lanes by weight (services/worker/lane-slots.ts).
 *
 * Every priority has the lane of its name. The overflow lane holds what tenants submit beyond
 * their spill allowance (docs/priorities.md#fairness-under-a-burst), and a task of an ordering
 * key waits in the lane its key's unfinished tasks are in, whatever it asked for
 * (services/shared/redis/lane-assigner.ts): that is how a key keeps its order across lanes.
 */

/** Highest first. `normal` is the lane every task used before priorities (the old tasks topic). */
export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type TaskPriority = (typeof PRIORITIES)[number];

export const LANES = [...PRIORITIES, 'overflow'] as const;
export type LaneName = (typeof LANES)[number];

export const DEFAULT_PRIORITY: TaskPriority = 'normal';

/**
 * A task's priority: messages and records carry one only when it is not `normal`, so tasks from
 * before priorities, and every normal one, look as they always did.
 */
export function priorityOf(owned: { priority?: string }): TaskPriority {
  return isPriority(owned.priority) ? owned.priority : DEFAULT_PRIORITY;
}

/** The lane a task waits in: its own when it was moved (spilled, or kept with its key), else its priority's. */
export function laneOf(owned: { priority?: string; lane?: string }): LaneName {
  return isLane(owned.lane) ? owned.lane : priorityOf(owned);
}

export function isPriority(value: unknown): value is TaskPriority {
  return typeof value === 'string' && (PRIORITIES as readonly string[]).includes(value);
}

export function isLane(value: unknown): value is LaneName {
  return typeof value === 'string' && (LANES as readonly string[]).includes(value);
}

/**
 * Shares of the worker's free slots each lane gets while several lanes have tasks waiting (a lane
 * with nothing waiting gives its share to the others). High gets 6 of every 11, low and overflow
 * 1 each: enough that a backlog of low tasks, or a tenant's burst, keeps moving under a steady
 * stream of other tasks, and small enough that neither holds them up.
 */
export const DEFAULT_LANE_WEIGHTS: Readonly<Record<LaneName, number>> = {
  high: 6,
  normal: 3,
  low: 1,
  overflow: 1,
};
