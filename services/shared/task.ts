import type { LaneName, TaskPriority } from './lanes/priority';

/**
 * The words Spillway uses, one meaning each.
 *
 * - task: one unit of work a client submitted: an id, a task type and a payload.
 * - task type: the name that selects a handler (`echo`, `sleep`, ...).
 * - handler: the function a worker runs for one task type.
 * - attempt: one run of a task's handler; attempts count from 1.
 * - status: where a task is in its life (TaskStatus below).
 * - task message: what the API publishes on the tasks topic and a worker consumes.
 * - task record: what Redis holds about a task; what `GET /v1/tasks/:id` returns.
 * - queue: a named set of topics, consumer group and Redis keys (`SPILLWAY_QUEUE`).
 * - tenant: whose tasks they are; an API key belongs to one (services/shared/tenancy).
 * - priority: how soon a task asks to run (high, normal, low; services/shared/lanes).
 * - lane: the topic a task waits in: its priority's, or overflow (services/shared/lanes).
 * - lag: task messages on the tasks topic that the worker group has not committed yet.
 */

export const TASK_STATUSES = [
  'queued',
  'scheduled',
  'running',
  'retrying',
  // The handler succeeded and spawned children it waits for (ctx.spawn with wait): it finishes with them.
  'waiting-children',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A task in one of these statuses never changes again. */
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Attempts a task gets when the client does not say (Celery and BullMQ users expect retries). */
export const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * The value of a message on the tasks topic and the delay topics. Field names are part of the
 * wire format: add optional fields only.
 */
export interface TaskMessage {
  id: string;
  type: string;
  payload: JsonValue;
  /** Epoch milliseconds at which the API accepted the task. */
  enqueuedAt: number;
  /** The Kafka partition key: tasks with the same key run in submission order. */
  key?: string;
  /** Attempts before the task fails for good, counting the first. */
  maxAttempts: number;
  /** Longest a single attempt may run. */
  timeoutMs?: number;
  /** Epoch milliseconds before which the task must not start (a delayed or scheduled task). */
  runAt?: number;
  /** Where to POST the task's record when it finishes. */
  callbackUrl?: string;
  /** Whose task it is; absent: the default tenant (and every message from before tenants). */
  tenant?: string;
  /** The priority it asked for; absent: normal (and every message from before priorities). */
  priority?: TaskPriority;
  /**
   * The lane it waits in, when not its priority's: spilled to overflow, or kept in its key's lane
   * (services/shared/redis/lane-assigner.ts). Retries and delayed tasks come back to it.
   */
  lane?: LaneName;
  /** Which attempt this message is for; absent means 1 (a retry carries the next number). */
  attempt?: number;
  /** The failed attempts before this one, oldest first (carried by retries). */
  history?: AttemptFailure[];
  /** The schedule whose tick submitted it (services/shared/schedules), if one did. */
  schedule?: string;
  /** The batch it is a child of (services/shared/batches): its finish counts towards the batch's. */
  batch?: string;
}

export interface TaskError {
  name: string;
  message: string;
}

/** One failed attempt of a task, as kept in its history. */
export interface AttemptFailure {
  attempt: number;
  /** Epoch ms. */
  startedAt: number;
  finishedAt: number;
  error: TaskError;
}

export interface TaskRecord {
  id: string;
  type: string;
  /** Whose task it is; absent: the default tenant. */
  tenant?: string;
  /** The priority it asked for; absent: normal. */
  priority?: TaskPriority;
  /** The lane it waits in, when not its priority's. */
  lane?: LaneName;
  status: TaskStatus;
  /** Attempts started so far. */
  attempts: number;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  result?: JsonValue;
  error?: TaskError;
  /** The handler's latest progress report. */
  progress?: JsonValue;
  /** For a scheduled task: when it becomes due. */
  runAt?: Date;
  /** Failed attempts so far, oldest first. */
  history?: AttemptFailure[];
  /** How the completion callback went, when the task had a callbackUrl. */
  callback?: JsonValue;
  /** The batch it is a child of. */
  batch?: string;
  /** The batch of children it spawned (ctx.spawn). */
  children?: string;
  /** The recurring schedule whose tick submitted it. */
  schedule?: string;
  /** The ordering key it was submitted with. */
  key?: string;
  /** What was submitted (absent on records a worker had to create itself). */
  spec?: TaskSpec;
  /** The task this one re-runs. */
  replayOf?: string;
}

/**
 * What a task was submitted with, kept in its record for the task page and re-runs. The payload
 * is left out when larger than MAX_KEPT_PAYLOAD_BYTES: Kafka has it, Redis memory is dearer.
 */
export interface TaskSpec {
  payload?: JsonValue;
  /** The payload's size in bytes as JSON, when it was too large to keep. */
  payloadBytes?: number;
  maxAttempts: number;
  timeoutMs?: number;
  callbackUrl?: string;
}

/** Largest payload (as JSON) a task record keeps. */
export const MAX_KEPT_PAYLOAD_BYTES = 64 * 1024;
