/** What the worker reports as it works; metrics.ts turns these into Prometheus series. */
/** `interrupted`: shutdown stopped the handler; the task will be delivered again. */
export type TaskOutcome = 'succeeded' | 'failed' | 'interrupted';

export interface WorkerEvents {
  /** A task's handler started; `queueWaitSeconds` is the time since the API accepted it. */
  taskStarted(type: string, queueWaitSeconds: number): void;
  taskFinished(type: string, outcome: TaskOutcome, seconds: number): void;
  /** A delivery of a task that had already finished (redelivery after a crash or rebalance). */
  duplicateSkipped(type: string): void;
  poisonMessage(): void;
}
