import type { DeadLetterReason } from '../shared/dead-letter';
import { DEFAULT_PRIORITY, LANES, PRIORITIES } from '../shared/lanes/priority';
import { MAX_KEPT_PAYLOAD_BYTES, TASK_STATUSES } from '../shared/task';
import { TASK_LIMITS } from '../shared/task-limits';

/**
 * JSON Schemas (draft 2020-12, the dialect of OpenAPI 3.1) for every request and response body.
 * validation.ts checks requests with them and openapi.ts publishes them: one source for both.
 */

export const LIMITS = {
  ...TASK_LIMITS,
  /** Long-poll cap in seconds. */
  waitSeconds: 30,
  /** Most dead letters one page lists. */
  deadLetterPage: 200,
  /** Most bytes of dead letters one page holds (at least one letter): bounds the API's memory. */
  deadLetterPageBytes: 4 * 1024 * 1024,
} as const;

export const TASK_TYPE_PATTERN = `^[A-Za-z0-9][A-Za-z0-9_.:-]{0,${LIMITS.typeLength - 1}}$`;

export const taskSubmissionSchema = {
  type: 'object',
  description: 'A task to run. Give at most one of delayMs and runAt.',
  required: ['type'],
  additionalProperties: false,
  properties: {
    type: {
      type: 'string',
      pattern: TASK_TYPE_PATTERN,
      description: 'Selects the handler.',
      examples: ['echo'],
    },
    payload: { description: 'Any JSON value; passed to the handler as is. Default null.' },
    key: {
      type: 'string',
      minLength: 1,
      maxLength: LIMITS.keyLength,
      description: 'Kafka partition key: tasks with the same key run one at a time, in order.',
    },
    priority: {
      enum: [...PRIORITIES],
      default: DEFAULT_PRIORITY,
      description:
        'How soon it should run: the lane it waits in, unless its tenant is over its spill allowance (overflow) or its ordering key has unfinished tasks in another lane (that one). Workers take from the lanes by weight (by default high 6, normal 3, low 1, overflow 1: LANE_WEIGHTS), so no lane is starved; a lane with nothing waiting gives its share to the others.',
    },
    maxAttempts: {
      type: 'integer',
      minimum: 1,
      maximum: LIMITS.maxAttempts,
      default: 3,
      description: 'Attempts before the task fails for good, counting the first.',
    },
    timeoutMs: {
      type: 'integer',
      minimum: 1,
      maximum: LIMITS.timeoutMs,
      description: 'Longest one attempt may run.',
    },
    delayMs: {
      type: 'integer',
      minimum: 0,
      maximum: LIMITS.delayMs,
      description: 'Start no earlier than this many milliseconds from now.',
    },
    runAt: {
      type: 'string',
      format: 'date-time',
      description: 'Start no earlier than this time (RFC 3339), at most 30 days ahead.',
    },
    callbackUrl: {
      type: 'string',
      format: 'uri',
      pattern: '^https?://',
      maxLength: LIMITS.callbackUrlLength,
      description: 'Receives a POST with the task record when the task finishes.',
    },
  },
  not: { required: ['delayMs', 'runAt'] },
} as const;

export function batchSubmissionSchema(maxTasks: number) {
  return {
    type: 'object',
    required: ['tasks'],
    additionalProperties: false,
    properties: {
      tasks: {
        type: 'array',
        minItems: 1,
        maxItems: maxTasks,
        description: 'Each item is validated on its own; invalid items do not stop the valid ones.',
        items: { $ref: '#/components/schemas/TaskSubmission' },
      },
    },
  } as const;
}

export const nullable = (schema: object) => ({ oneOf: [schema, { type: 'null' }] });
export const timestamp = { type: 'string', format: 'date-time' } as const;
const taskErrorSchema = {
  type: 'object',
  required: ['name', 'message'],
  properties: { name: { type: 'string' }, message: { type: 'string' } },
} as const;

const attemptFailureSchema = {
  type: 'object',
  required: ['attempt', 'startedAt', 'finishedAt', 'error'],
  additionalProperties: false,
  properties: {
    attempt: { type: 'integer', minimum: 1 },
    startedAt: timestamp,
    finishedAt: timestamp,
    error: taskErrorSchema,
  },
} as const;

export const taskSchema = {
  type: 'object',
  required: [
    'id',
    'type',
    'tenant',
    'priority',
    'lane',
    'status',
    'attempts',
    'createdAt',
    'startedAt',
    'finishedAt',
    'result',
    'error',
    'progress',
    'history',
  ],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    tenant: { type: 'string', description: "Whose task it is: the submitting key's tenant." },
    priority: { enum: [...PRIORITIES], description: 'The priority it asked for.' },
    lane: {
      enum: [...LANES],
      description:
        "The lane it waits in: its priority's, overflow when its tenant was over its spill allowance, or its ordering key's lane.",
    },
    status: { enum: [...TASK_STATUSES] },
    attempts: { type: 'integer', minimum: 0, description: 'Attempts started so far.' },
    createdAt: timestamp,
    runAt: { ...timestamp, description: 'For a scheduled task: when it becomes due.' },
    startedAt: nullable(timestamp),
    finishedAt: nullable(timestamp),
    result: { description: "The handler's result; null until the task succeeds." },
    error: nullable(taskErrorSchema),
    progress: { description: "The handler's latest progress report, or null." },
    history: {
      type: 'array',
      description: 'Failed attempts so far, oldest first.',
      items: attemptFailureSchema,
    },
    callback: {
      type: 'object',
      description: 'How the completion callback went (tasks with a callbackUrl, once it was sent).',
      required: ['delivered', 'attempts', 'at'],
      properties: {
        delivered: { type: 'boolean' },
        attempts: { type: 'integer', minimum: 0 },
        status: { type: 'integer' },
        error: { type: 'string' },
        at: timestamp,
      },
    },
    batch: { type: 'string', description: 'The batch this task is a child of (GET /v1/batches/{id}).' },
    children: { type: 'string', description: 'The batch of children its handler spawned (ctx.spawn).' },
    schedule: { type: 'string', description: 'The recurring schedule whose tick submitted it.' },
    key: nullable({ type: 'string', description: 'The ordering key it was submitted with.' }),
    payload: {
      description: `What it was submitted with; absent when larger than ${MAX_KEPT_PAYLOAD_BYTES} bytes as JSON (Kafka still carried it) or on a record a worker had to create.`,
    },
    payloadBytes: { type: 'integer', description: 'The size of a payload too large to keep in the record.' },
    maxAttempts: { type: 'integer', minimum: 1 },
    timeoutMs: nullable({ type: 'integer' }),
    callbackUrl: nullable({ type: 'string' }),
    replayOf: {
      type: 'string',
      description:
        "What this task re-runs: a task (POST /v1/tasks/{id}/replay) or a dead letter (its replays; a task's letter has the task's id).",
    },
  },
} as const;

/** One row of GET /v1/tasks: what a listing needs, not the whole record. */
export const taskSummarySchema = {
  type: 'object',
  required: [
    'id',
    'type',
    'tenant',
    'status',
    'priority',
    'attempts',
    'createdAt',
    'startedAt',
    'finishedAt',
    'key',
    'error',
  ],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    tenant: { type: 'string' },
    status: { enum: [...TASK_STATUSES] },
    priority: { enum: [...PRIORITIES] },
    attempts: { type: 'integer', minimum: 0 },
    createdAt: timestamp,
    startedAt: nullable(timestamp),
    finishedAt: nullable(timestamp),
    key: nullable({ type: 'string' }),
    error: nullable(taskErrorSchema),
  },
} as const;

/** GET /v1/tasks. */
export const taskPageSchema = {
  type: 'object',
  required: ['items', 'nextCursor', 'scanned'],
  additionalProperties: false,
  properties: {
    items: { type: 'array', items: taskSummarySchema },
    nextCursor: nullable({
      type: 'string',
      description:
        'Pass it back as cursor, with the same filters, for the next page; null when there is none. A page may hold fewer than limit tasks and still have one: each request examines a bounded number of index entries.',
    }),
    scanned: { type: 'integer', minimum: 0, description: 'Index entries examined for this page.' },
  },
} as const;

export const acceptedSchema = {
  type: 'object',
  required: ['id', 'type', 'status', 'createdAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    status: { enum: ['queued', 'scheduled'] },
    createdAt: timestamp,
    runAt: timestamp,
  },
} as const;

/** POST /v1/dead-letters/{id}/replay: the new task, as POST /v1/tasks answers, and what it replays. */
export const replayAcceptedSchema = {
  ...acceptedSchema,
  required: [...acceptedSchema.required, 'replayOf'],
  properties: {
    ...acceptedSchema.properties,
    replayOf: { type: 'string', description: 'The id of the dead letter this task re-runs.' },
  },
} as const;

export const rebuildReportSchema = {
  type: 'object',
  description: 'What a rebuild did with each message of the dead-letter topic.',
  required: ['read', 'restored', 'present', 'discarded', 'expired', 'unreadable'],
  additionalProperties: false,
  properties: {
    read: {
      type: 'integer',
      minimum: 0,
      description: 'Messages read, up to the end the topic had when the rebuild began.',
    },
    restored: { type: 'integer', minimum: 0, description: 'Dead letters Redis had lost, indexed again.' },
    present: {
      type: 'integer',
      minimum: 0,
      description: 'Dead letters Redis still had (their replay state kept).',
    },
    discarded: {
      type: 'integer',
      minimum: 0,
      description:
        'Dead letters discarded through the API (Redis remembers them until they would expire): left out.',
    },
    expired: { type: 'integer', minimum: 0, description: 'Older than DEAD_LETTER_TTL_SECONDS: left out.' },
    unreadable: {
      type: 'integer',
      minimum: 0,
      description: 'Messages that are not a dead letter Spillway wrote.',
    },
  },
} as const;

// A record, not a list: adding a reason to DeadLetterReason fails to compile until it is here.
export const DEAD_LETTER_REASONS = Object.keys({
  'attempts-exhausted': true,
  'non-retriable': true,
  'unknown-type': true,
  poison: true,
} satisfies Record<DeadLetterReason, true>);

export const deadLetterSchema = {
  type: 'object',
  description: 'A task given up on, or a message on the tasks topic that was not a task (poison).',
  required: ['id', 'reason', 'deadAt', 'task', 'raw', 'error', 'history', 'replayedAs'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', description: 'The task id; for poison, `poison:<topic>:<partition>:<offset>`.' },
    reason: { enum: [...DEAD_LETTER_REASONS] },
    deadAt: timestamp,
    task: nullable({
      type: 'object',
      description: 'The task as it was submitted; null for poison.',
      required: ['id', 'type', 'tenant', 'priority', 'payload', 'enqueuedAt', 'maxAttempts'],
      additionalProperties: false,
      properties: {
        id: { type: 'string' },
        type: { type: 'string' },
        tenant: { type: 'string' },
        priority: { enum: [...PRIORITIES] },
        payload: { description: 'Any JSON value.' },
        enqueuedAt: timestamp,
        maxAttempts: { type: 'integer', minimum: 1 },
        key: { type: 'string' },
        timeoutMs: { type: 'integer', minimum: 1 },
        runAt: timestamp,
        callbackUrl: { type: 'string' },
      },
    }),
    raw: nullable({ type: 'string', description: 'For poison: the message value as UTF-8, cut to 64 KiB.' }),
    error: { ...taskErrorSchema, description: 'The last error.' },
    history: {
      type: 'array',
      description: 'Every failed attempt, oldest first.',
      items: attemptFailureSchema,
    },
    replayedAs: nullable({ type: 'string', description: 'The id of the task a replay created.' }),
  },
} as const;

export const deadLetterPageSchema = {
  type: 'object',
  required: ['items', 'nextCursor'],
  additionalProperties: false,
  properties: {
    items: {
      type: 'array',
      description: 'Newest first.',
      items: { $ref: '#/components/schemas/DeadLetter' },
    },
    nextCursor: nullable({
      type: 'string',
      description: 'Pass as `cursor` for the next page; null on the last one.',
    }),
  },
} as const;

export const errorSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', description: 'Stable; switch on it.' },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: {
            type: 'object',
            required: ['message'],
            properties: {
              field: { type: 'string', description: 'The request field at fault, e.g. "tasks[2].type".' },
              message: { type: 'string' },
            },
          },
        },
      },
    },
  },
} as const;

export const batchResultSchema = {
  type: 'object',
  required: ['accepted', 'rejected', 'results'],
  additionalProperties: false,
  properties: {
    accepted: { type: 'integer', minimum: 0 },
    rejected: { type: 'integer', minimum: 0 },
    results: {
      type: 'array',
      description: 'One entry per submitted task, in order: the accepted task or its error.',
      items: {
        oneOf: [{ $ref: '#/components/schemas/Accepted' }, { $ref: '#/components/schemas/Error' }],
      },
    },
  },
} as const;

export const statsSchema = {
  type: 'object',
  required: ['counts', 'oldestWaitingAgeSeconds', 'lag', 'deadLetters'],
  additionalProperties: false,
  properties: {
    counts: {
      type: 'object',
      description:
        'Tasks in each status now; for finished statuses, how many ever ended so (records expire, counts stay).',
      required: [...TASK_STATUSES],
      additionalProperties: false,
      properties: Object.fromEntries(TASK_STATUSES.map((s) => [s, { type: 'integer' }])),
    },
    oldestWaitingAgeSeconds: {
      oneOf: [{ type: 'number', minimum: 0 }, { type: 'null' }],
      description: 'Age of the oldest task that is due and not yet started; null when none waits.',
    },
    deadLetters: {
      type: 'integer',
      minimum: 0,
      description: 'Dead letters kept now (they expire after TASK_TTL_SECONDS); see GET /v1/dead-letters.',
    },
    lag: {
      type: 'object',
      required: ['total', 'byLane', 'partitions'],
      properties: {
        total: { type: 'integer', minimum: 0, description: 'Over every lane.' },
        byLane: {
          type: 'object',
          required: [...LANES],
          properties: Object.fromEntries(LANES.map((lane) => [lane, { type: 'integer', minimum: 0 }])),
        },
        partitions: {
          type: 'array',
          items: {
            type: 'object',
            required: ['lane', 'partition', 'latestOffset', 'committedOffset', 'lag'],
            properties: {
              lane: { enum: [...LANES] },
              partition: { type: 'integer' },
              latestOffset: { type: 'integer' },
              committedOffset: { oneOf: [{ type: 'integer' }, { type: 'null' }] },
              lag: { type: 'integer', minimum: 0 },
            },
          },
        },
      },
    },
  },
} as const;
