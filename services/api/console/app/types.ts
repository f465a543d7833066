/**
 * The API's answers as the console reads them (docs/api.md; the issue 21 contracts). Only the
 * fields the console shows are typed; the JSON sections show whatever else a record carries.
 */

import type {
  BulkDiscardReport,
  BulkDryRunReport,
  BulkReplayReport,
} from '../../../shared/dead-letter-reports';
import type { JsonValue, TaskError, TaskStatus } from '../../../shared/task';

// From services/shared, bundled into the app by esbuild: only files that import nothing of Node
// (no node: modules, no Node-only packages) may be imported here.
export { TASK_STATUSES, TERMINAL_STATUSES } from '../../../shared/task';
export type { TaskEventData } from '../../../shared/task-event-wire';

/** One row of GET /v1/tasks. */
export interface TaskSummary {
  id: string;
  type: string;
  tenant: string;
  status: TaskStatus;
  priority: string;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  key: string | null;
  error: TaskError | null;
}

export interface TaskPage {
  items: TaskSummary[];
  nextCursor: string | null;
  scanned?: number;
}

export interface AttemptFailure {
  attempt: number;
  startedAt: string;
  finishedAt: string;
  error: TaskError;
}

/** GET /v1/tasks/:id. */
export interface TaskRecord extends TaskSummary {
  lane?: string;
  runAt?: string;
  result: JsonValue;
  progress: JsonValue;
  history: AttemptFailure[];
  /** Absent when it was not kept (over 64 KiB). */
  payload?: JsonValue;
  maxAttempts?: number;
  timeoutMs?: number | null;
  callbackUrl?: string | null;
  callback?: JsonValue;
  replayOf?: string;
  batch?: string;
  children?: string;
  schedule?: string;
}

/** 202 of a submission or a replay. */
export interface Accepted {
  id: string;
  type: string;
  status: string;
  createdAt: string;
  replayOf?: string;
}

export interface PartitionLag {
  lane: string;
  partition: number;
  latestOffset?: number;
  committedOffset?: number;
  lag: number;
}

export interface QueueStats {
  counts: Record<string, number>;
  oldestWaitingAgeSeconds: number | null;
  lag: { total: number; byLane?: Record<string, number>; partitions: PartitionLag[] };
  deadLetters: number;
}

export interface Condition {
  status: string;
  reason?: string;
  message?: string;
}

export interface Fleet {
  at: string;
  namespace: string;
  workers: { name: string; desiredReplicas: number; replicas?: number; readyReplicas: number };
  scaledObject: {
    name: string;
    ready: Condition | null;
    active: Condition | null;
    paused: boolean;
    minReplicaCount: number;
    maxReplicaCount: number;
  } | null;
  hpa: {
    name: string;
    currentReplicas: number;
    desiredReplicas: number;
    metrics: { name: string; targetType?: string; target: number | null; current: number | null }[];
  } | null;
  drain?: { finishedPerSecond: number; etaSeconds: number | null };
}

export const DEAD_LETTER_REASONS = ['attempts-exhausted', 'non-retriable', 'unknown-type', 'poison'] as const;

export interface DeadLetter {
  id: string;
  reason: string;
  deadAt: string;
  task: { id: string; type: string; tenant?: string; payload?: JsonValue } | null;
  raw: string | null;
  error: TaskError;
  history: AttemptFailure[];
  replayedAs: string | null;
}

export interface DeadLetterPage {
  items: DeadLetter[];
  nextCursor: string | null;
}

/** POST /v1/dead-letters/replay or /discard, either verb, with `dryRun` or without: `matched` always. */
export type BulkResult = BulkDryRunReport & Partial<BulkReplayReport & BulkDiscardReport>;

/** `event: rates` of GET /v1/events (admin keys). */
export interface RatesEvent {
  at: string;
  intervalSeconds: number;
  perSecond: { submitted: number; started: number; succeeded: number; failed: number; cancelled: number };
  counts: Record<string, number>;
}
