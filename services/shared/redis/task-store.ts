import type { JsonValue, TaskError, TaskRecord, TaskStatus } from '../task';

/**
 * A request to move a task to `status`. Transitions are monotonic: one that would move a task
 * backwards, by attempt then by phase (queued < running < retrying < finished), is ignored,
 * and a task in a terminal status never changes. So a late `queued` write cannot undo `running`.
 */
export interface Transition {
  id: string;
  /** Written only if the record does not exist yet (the API's enqueue write may have been lost). */
  type: string;
  createdAt: Date;
  status: TaskStatus;
  /** 0 for queued/scheduled; the attempt number for every status a worker writes. */
  attempt: number;
  at: Date;
  result?: JsonValue;
  error?: TaskError;
}

export type TransitionOutcome =
  | { applied: true }
  /** The record was already at or past this point; `current` is its status now. */
  | { applied: false; current: TaskStatus };

/** Where task records live. RedisTaskStore is the real one. */
export interface TaskStore {
  transition(change: Transition): Promise<TransitionOutcome>;
  /** Applies many transitions in one round trip, in order. */
  transitionMany(changes: Transition[]): Promise<TransitionOutcome[]>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
