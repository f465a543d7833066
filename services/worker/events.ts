/** What the worker reports as it works; metrics.ts turns these into Prometheus series. */
import type { LaneName } from '../shared/lanes/priority';
import type { DeadLetterReason } from '../shared/dead-letter';

/**
 * How one attempt ended. `failed`: the attempt failed (the task is retried or dead-lettered);
 * `cancelled`: cancelled while running; `interrupted`: shutdown stopped it, it comes back.
 */
export type TaskOutcome = 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export interface WorkerEvents {
  /** A task's handler started; `queueWaitSeconds` is the time since the API accepted it. */
  taskStarted(type: string, tenant: string, queueWaitSeconds: number): void;
  taskFinished(type: string, tenant: string, outcome: TaskOutcome, seconds: number): void;
  /** A delivery of a task that had already finished (redelivery after a crash or rebalance). */
  duplicateSkipped(type: string): void;
  /** A delivery of an attempt another live worker still runs (it lost the partition): waited for. */
  heldElsewhere(type: string): void;
  poisonMessage(): void;
  /** A failed attempt was scheduled to run again later. */
  taskRetried(type: string): void;
  deadLettered(reason: DeadLetterReason): void;
  /** A handler ignored its aborted signal and was left running. */
  handlerAbandoned(type: string): void;
  /** After a batch or a commit: messages of the lane's partition not yet committed. */
  partitionLag(lane: LaneName, partition: number, lag: number): void;
  /** The tasks consumer rejoined its group after a rebalance that stopped its fetching this long. */
  rebalanced(seconds: number): void;
  /** A task waits: its tenant runs its max-running across the fleet. */
  tenantLimitWait(tenant: string): void;
  /** The tenant running limit could not be checked (Redis did not answer) and a task ran anyway. */
  tenantLimitFailedOpen(): void;
}

/** What the scheduler reports as it moves delayed tasks out of the delay tiers. */
export interface SchedulerEvents {
  /** `count` due tasks reached the tasks topic. */
  tasksReleased(count: number): void;
  /** `count` tasks, not due yet, moved on to a shorter delay tier. */
  tasksRedelayed(count: number): void;
  /** A message on a delay tier that is not a delayed task (value or release-at header); skipped. */
  schedulerPoisonMessage(): void;
}
