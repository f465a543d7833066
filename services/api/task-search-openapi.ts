import { TASK_STATUSES } from '../shared/task';
import { MAX_PAGE, DEFAULT_PAGE, MAX_SEARCH_TEXT } from './task-filter';
import { replayAcceptedSchema, taskPageSchema } from './schemas';

const json = (ref: string) => ({
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const error = (description: string) => ({ description, ...json('Error') });
const query = (name: string, description: string, schema: object = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

/** The filters GET /v1/tasks takes; GET /v1/events takes status, type, tenant and key. */
export const taskFilterParameters = {
  status: query('status', `One status or several separated by commas (${TASK_STATUSES.join(', ')}).`),
  type: query('type', 'The task type, exactly.'),
  tenant: query(
    'tenant',
    "The tenant, exactly. Admin keys see every tenant's tasks; another key sees its own tenant's only (another tenant: 403 tenant_forbidden).",
  ),
  key: query('key', 'A prefix of the ordering key.'),
};

/** GET /v1/tasks and POST /v1/tasks/{id}/replay, for openapi.ts. */
export function taskSearchPaths(common: object) {
  return {
    get: {
      operationId: 'listTasks',
      summary: 'List and search tasks, newest first, paged by cursor.',
      parameters: [
        ...Object.values(taskFilterParameters),
        query('id', 'A prefix of the task id.'),
        query('since', 'Created at or after: ISO 8601 with a zone, or epoch ms.'),
        query('until', 'Created before: ISO 8601 with a zone, or epoch ms.'),
        query('q', `Text in the error's name or message, any case (at most ${MAX_SEARCH_TEXT} characters).`),
        query('limit', `Tasks per page (default ${DEFAULT_PAGE}).`, {
          type: 'integer',
          minimum: 1,
          maximum: MAX_PAGE,
        }),
        query('cursor', 'The nextCursor of the previous page (with the same filters).'),
      ],
      responses: {
        '200': { description: 'A page of tasks.', ...json('TaskPage') },
        '404': error('This queue keeps no task indexes (TASK_INDEXES=false): `listing_off`.'),
        '422': error('A parameter is not valid; `details` names each one.'),
        ...common,
      },
    },
  };
}

export function taskReplayPath(common: object, idempotencyKey: object) {
  return {
    post: {
      operationId: 'replayTask',
      summary: 'Run a task again as a new task with the same submission; the new record names it (replayOf).',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, idempotencyKey],
      responses: {
        '202': { description: 'Accepted: Kafka holds the new task.', ...json('TaskReplayAccepted') },
        '200': {
          description: 'A replay of an earlier request with the same Idempotency-Key.',
          ...json('TaskReplayAccepted'),
        },
        '404': error('No task with this id (or its record expired).'),
        '409': error(
          'The record does not hold the payload (`payload_not_kept`: too large, or written by a worker).',
        ),
        '429': error("Over the tenant's rate limit; see Retry-After."),
        ...common,
      },
    },
  };
}

export const taskSearchComponents = {
  TaskPage: taskPageSchema,
  TaskReplayAccepted: {
    ...replayAcceptedSchema,
    properties: {
      ...replayAcceptedSchema.properties,
      replayOf: { type: 'string', description: 'The id of the task this one re-runs.' },
    },
  },
};
