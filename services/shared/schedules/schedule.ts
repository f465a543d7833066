import type { TaskMessage } from '../task';
import { seededTaskId } from '../task-ids';

/**
 * The words of recurring schedules, one meaning each.
 *
 * - schedule: a task template and the times it is submitted at (a cron expression in a time
 *   zone, or a fixed interval); it belongs to one tenant, like a task.
 * - tick: one of a schedule's fire times; a fired tick is one task, whose id derives from the
 *   schedule's id and the tick's time (tickTaskId), so every firer of one tick publishes one id.
 * - cursor: the time up to which a schedule's ticks are handled (fired or skipped); it only moves
 *   forward, and a tick is due once it is after the cursor and not after now.
 * - missed tick: a due tick older than the firers' grace (SCHEDULE_MISFIRE_GRACE_MS): nothing fired
 *   it in time (every worker was down). The schedule's `missed` policy decides what happens to it.
 */

export const MISSED_POLICIES = ['skip', 'catch-up'] as const;
/** skip: missed ticks never run; catch-up: the newest `maxCatchUp` of them run late, the rest are skipped. */
export type MissedPolicy = (typeof MISSED_POLICIES)[number];

export const SCHEDULE_STATES = ['active', 'paused'] as const;
export type ScheduleState = (typeof SCHEDULE_STATES)[number];

/** When a schedule fires: exactly one of the two. */
export type ScheduleTiming =
  | { cron: string; /** IANA zone the cron fields are read in; default UTC. */ timeZone: string }
  | {
      intervalMs: number;
      /** Epoch ms its ticks count from (anchorAt + k × intervalMs): creation, or its last timing change. */
      anchorAt: number;
    };

/** The task each tick submits: a task submission's fields without delayMs or runAt. */
export type TaskTemplate = Pick<
  TaskMessage,
  'type' | 'payload' | 'maxAttempts' | 'key' | 'timeoutMs' | 'callbackUrl' | 'priority'
>;

/** What a schedule is; its cursor and last fired tick are kept beside it by the store. */
export interface Schedule {
  id: string;
  tenant: string;
  timing: ScheduleTiming;
  task: TaskTemplate;
  missed: MissedPolicy;
  /** With catch-up: most missed ticks run late after an outage (the newest ones). */
  maxCatchUp: number;
  state: ScheduleState;
  /** Epoch ms. */
  createdAt: number;
  updatedAt: number;
}

/** Missed ticks a catch-up schedule runs when the client does not say. */
export const DEFAULT_MAX_CATCH_UP = 10;

/**
 * The id of the task a tick submits: the same on every firer, so a tick published twice (a lease
 * that lapsed mid-publish, a firer that died before it moved the cursor) runs once.
 */
export function tickTaskId(scheduleId: string, tickAt: number): string {
  return seededTaskId(`schedule/${scheduleId}`, tickAt);
}
