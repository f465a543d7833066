import { DEFAULT_PRIORITY, type LaneName, type TaskPriority } from '../lanes/priority';
import { tenantOf } from '../tenancy/tenant';
import type {
  AttemptFailure,
  JsonValue,
  TaskError,
  TaskMessage,
  TaskRecord,
  TaskSpec,
  TaskStatus,
} from '../task';

/**
 * A request to move a task to `status`. Transitions are monotonic: one that would move a task
 * backwards, by attempt then by phase (scheduled < queued < running < retrying < finished), is
 * ignored, and a finished task never changes. So a late `queued` write cannot undo `running`.
 */
export interface Transition {
  id: string;
  /** Written only if the record does not exist yet (the API's enqueue write may have been lost). */
  type: string;
  createdAt: Date;
  /** Written only if the record does not exist yet, like `type`; absent: the default tenant. */
  tenant?: string;
  /** The task's priority when not normal (rewritten with every transition that carries it). */
  priority?: TaskPriority;
  /** Its lane when not its priority's (like `priority`). */
  lane?: LaneName;
  /**
   * `<tenant>/<key>` of a task with an ordering key: when the task finishes, the transition takes
   * it off its key's open tasks, which keep the key in one lane (lane-assigner.ts).
   */
  pin?: string;
  /** The batch it is a child of: written with the record, counted when the task finishes. */
  batch?: string;
  /** The batch of children it spawned. */
  children?: string;
  /** The schedule whose tick submitted it: written with the record. */
  schedule?: string;
  /** The ordering key, written by the API with the record (the listing filters on it). */
  key?: string;
  /** What was submitted, written by the API with the record: the task page and re-runs read it. */
  spec?: TaskSpec;
  /** The task this one re-runs (POST /v1/tasks/:id/replay). */
  replayOf?: string;
  status: TaskStatus;
  /** 0 for queued/scheduled; the attempt number for every status a worker writes. */
  attempt: number;
  at: Date;
  result?: JsonValue;
  error?: TaskError;
  /** For a scheduled task: when it becomes due. */
  runAt?: Date;
  /** Failed attempts so far (replaces what the record held). */
  history?: AttemptFailure[];
  /**
   * For `running`: who claims the attempt, and for how long (extended with `claim`). While the
   * claim is live, a `running` transition of the same attempt by another claimant is refused
   * with `heldElsewhere`.
   */
  claim?: Claim;
}

/** What every transition of `task` says about it, in case its record must be created. */
export function identityOf(
  task: TaskMessage,
): Pick<
  Transition,
  'id' | 'type' | 'createdAt' | 'tenant' | 'priority' | 'lane' | 'pin' | 'key' | 'batch' | 'schedule'
> {
  return {
    id: task.id,
    type: task.type,
    createdAt: new Date(task.enqueuedAt),
    ...(task.tenant !== undefined && { tenant: task.tenant }),
    ...(task.priority !== undefined && task.priority !== DEFAULT_PRIORITY && { priority: task.priority }),
    ...(task.lane !== undefined && { lane: task.lane }),
    ...(task.key !== undefined && { pin: pinOf(task), key: task.key }),
    ...(task.batch !== undefined && { batch: task.batch }),
    ...(task.schedule !== undefined && { schedule: task.schedule }),
  };
}

/** Tasks that ever reached each point; with TASK_INDEXES off, submitted and started stay 0. */
export interface TaskTotals {
  submitted: number;
  started: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** A worker's hold on the attempt it runs: `claimant` names the worker process. */
export interface Claim {
  claimant: string;
  /** How long the claim lasts unless extended, on Redis' clock. */
  ms: number;
}

export type TransitionOutcome =
  | { applied: true; previous?: TaskStatus }
  /**
   * The record was already at or past this point (`current`), or does not exist (no `current`);
   * `heldElsewhere`: the attempt is running under another worker's live claim.
   */
  | { applied: false; current?: TaskStatus; heldElsewhere?: true };

/** Where task records live. RedisTaskStore is the real one. */
export interface TaskStore {
  transition(change: Transition): Promise<TransitionOutcome>;
  /** Applies many transitions in one round trip, in order. */
  transitionMany(changes: Transition[]): Promise<TransitionOutcome[]>;
  /**
   * Marks a task cancelled unless it finished already; works whatever attempt it is on. For a
   * running task, also announces the id on the queue's cancel channel for the workers.
   */
  cancel(id: string, at: Date): Promise<TransitionOutcome>;
  /**
   * Extends the claim on a running attempt by `claim.ms` from now (0: gives it up at once), if
   * that claimant still holds it. Resolves true when it did.
   */
  claim(id: string, attempt: number, claim: Claim): Promise<boolean>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** Stores a running handler's progress report; ignored once the record is gone. */
  progress(id: string, value: JsonValue): Promise<void>;
  /** Stores how the completion callback went. */
  recordCallback(id: string, outcome: JsonValue): Promise<void>;
  /** Tasks in each status now (finished statuses: how many ever ended so). */
  counts(): Promise<Record<TaskStatus, number>>;
  /**
   * The counts and, read with them, the counters since the queue began (submitted is the counts'
   * sum): rates are the differences of two readings.
   */
  countsAndTotals(): Promise<{ counts: Record<TaskStatus, number>; totals: TaskTotals }>;
  /**
   * A tenant's unfinished tasks (queued, scheduled, running, retrying), kept by the transitions
   * themselves. A record that expires unfinished (after TASK_TTL_SECONDS) stays counted.
   */
  openTasks(tenant: string): Promise<number>;
  /** openTasks of every tenant that has had any. */
  openTasksByTenant(): Promise<Map<string, number>>;
  /** When the task that has waited longest became due; undefined when none waits. */
  oldestWaitingSince(): Promise<Date | undefined>;
  /** Redis' memory in use and its maxmemory (0: no limit), for the memory alert. */
  memoryUse(): Promise<{ usedBytes: number; maxBytes: number }>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The pin of a task with an ordering key: its key within its tenant (partitionKeyOf's, always prefixed). */
export function pinOf(task: Pick<TaskMessage, 'key' | 'tenant'>): string {
  return `${tenantOf(task)}/${task.key}`;
}
