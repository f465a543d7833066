/**
 * Priorities: which of a queue's lanes a task waits in. Each priority has its own topic and
 * consumer group (names.ts), so a backlog in one lane never stands in front of another's tasks;
 * workers take from the lanes by weight (services/worker/lane-slots.ts).
 */

/** Highest first. `normal` is the lane every task used before priorities (the old tasks topic). */
export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type TaskPriority = (typeof PRIORITIES)[number];

export const DEFAULT_PRIORITY: TaskPriority = 'normal';

/**
 * A task's priority: messages and records carry one only when it is not `normal`, so tasks from
 * before priorities, and every normal one, look as they always did.
 */
export function priorityOf(owned: { priority?: string }): TaskPriority {
  return isPriority(owned.priority) ? owned.priority : DEFAULT_PRIORITY;
}

export function isPriority(value: unknown): value is TaskPriority {
  return typeof value === 'string' && (PRIORITIES as readonly string[]).includes(value);
}

/**
 * Shares of the worker's free slots each lane gets while several lanes have tasks waiting (a lane
 * with nothing waiting gives its share to the others). High gets 6 of every 10, low 1: enough
 * that a backlog of low tasks keeps moving under a steady stream of high ones.
 */
export const DEFAULT_LANE_WEIGHTS: Readonly<Record<TaskPriority, number>> = { high: 6, normal: 3, low: 1 };
