import { MISSED_POLICIES, SCHEDULE_STATES, DEFAULT_MAX_CATCH_UP } from '../../shared/schedules/schedule';
import { nullable, taskSubmissionSchema, timestamp } from '../schemas';

/**
 * JSON Schemas of the schedule routes: validation.ts checks requests with them and openapi.ts
 * publishes them (their own file: schemas.ts holds the tasks' and is long enough).
 */

export const SCHEDULE_LIMITS = {
  /** Shortest interval: ticks are whole seconds apart at the least, as with cron's seconds field. */
  minIntervalMs: 1000,
  maxIntervalMs: 366 * 24 * 3600 * 1000,
  cronLength: 200,
  timeZoneLength: 64,
  maxCatchUp: 1000,
  /** Fire times a schedule's view lists. */
  nextFireTimes: 5,
} as const;

const { delayMs: _delayMs, runAt: _runAt, ...templateProperties } = taskSubmissionSchema.properties;

/** A schedule's task: a task submission without delayMs or runAt (its ticks say when). */
export const taskTemplateSchema = {
  type: 'object',
  description: 'The task each tick submits: the fields of a task submission, without delayMs or runAt.',
  required: ['type'],
  additionalProperties: false,
  properties: templateProperties,
} as const;

const timingProperties = {
  cron: {
    type: 'string',
    minLength: 1,
    maxLength: SCHEDULE_LIMITS.cronLength,
    description:
      'A cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; `@hourly`, `@daily` and the like. Read in `timeZone`. Give cron or intervalMs.',
    examples: ['*/5 * * * *', '0 9 * * 1-5'],
  },
  timeZone: {
    type: 'string',
    minLength: 1,
    maxLength: SCHEDULE_LIMITS.timeZoneLength,
    default: 'UTC',
    description:
      'The IANA time zone the cron fields are read in (with its daylight saving time); only with cron.',
    examples: ['Europe/Berlin'],
  },
  intervalMs: {
    type: 'integer',
    minimum: SCHEDULE_LIMITS.minIntervalMs,
    maximum: SCHEDULE_LIMITS.maxIntervalMs,
    description: 'A fixed interval: ticks every intervalMs from when it was set. Give cron or intervalMs.',
  },
} as const;

const policyProperties = {
  missed: {
    enum: [...MISSED_POLICIES],
    default: 'skip',
    description:
      'Ticks missed while no worker ran: `skip` drops them; `catch-up` runs the newest maxCatchUp of them late.',
  },
  maxCatchUp: {
    type: 'integer',
    minimum: 1,
    maximum: SCHEDULE_LIMITS.maxCatchUp,
    default: DEFAULT_MAX_CATCH_UP,
    description: 'With catch-up: the most missed ticks run after an outage.',
  },
  paused: { type: 'boolean', default: false, description: 'Paused schedules fire nothing.' },
} as const;

/** POST /v1/schedules; `task` is the template's schema (a $ref in the published document). */
export function scheduleCreateSchema(task: object) {
  return {
    type: 'object',
    description: 'A recurring schedule: cron (with timeZone) or intervalMs, and the task each tick submits.',
    required: ['task'],
    additionalProperties: false,
    properties: { ...timingProperties, task, ...policyProperties },
  } as const;
}

/** PATCH /v1/schedules/{id}: the fields to change; `paused` pauses or resumes. */
export function schedulePatchSchema(task: object) {
  return {
    type: 'object',
    description:
      'The fields to change. cron replaces an interval and intervalMs a cron; task replaces the whole template. A new timing or a resume starts from now: ticks of a pause are not missed ticks.',
    minProperties: 1,
    additionalProperties: false,
    properties: { ...timingProperties, task, ...policyProperties },
  } as const;
}

export const scheduleSchema = {
  type: 'object',
  required: [
    'id',
    'tenant',
    'state',
    'cron',
    'timeZone',
    'intervalMs',
    'task',
    'missed',
    'maxCatchUp',
    'createdAt',
    'updatedAt',
    'nextFireTimes',
    'lastTick',
  ],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    tenant: { type: 'string', description: "Whose schedule it is: the creating key's tenant." },
    state: { enum: [...SCHEDULE_STATES] },
    cron: nullable({ type: 'string' }),
    timeZone: nullable({ type: 'string' }),
    intervalMs: nullable({ type: 'integer' }),
    task: { $ref: '#/components/schemas/TaskTemplate' },
    missed: { enum: [...MISSED_POLICIES] },
    maxCatchUp: { type: 'integer', minimum: 1 },
    createdAt: timestamp,
    updatedAt: timestamp,
    nextFireTimes: {
      type: 'array',
      maxItems: SCHEDULE_LIMITS.nextFireTimes,
      description: 'The next fire times, soonest first; empty while paused.',
      items: timestamp,
    },
    lastTick: nullable({
      type: 'object',
      description: "The newest tick fired, and its task's id (GET /v1/tasks/{id}).",
      required: ['at', 'taskId'],
      additionalProperties: false,
      properties: { at: timestamp, taskId: { type: 'string' } },
    }),
  },
} as const;

export const scheduleListSchema = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: {
    items: {
      type: 'array',
      description: 'Oldest first: the caller tenant’s schedules (every tenant’s for admin), at most 1000.',
      items: { $ref: '#/components/schemas/Schedule' },
    },
  },
} as const;
