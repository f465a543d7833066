import {
  acceptedSchema,
  batchResultSchema,
  batchSubmissionSchema,
  deadLetterPageSchema,
  deadLetterSchema,
  errorSchema,
  LIMITS,
  rebuildReportSchema,
  replayAcceptedSchema,
  statsSchema,
  taskSchema,
  taskSubmissionSchema,
} from './schemas';
import { fleetSchema } from './fleet-schema';
import { pauseRequestSchema, queuePausePaths, queueStateSchema } from './queue-schema';
import { scheduleComponents, schedulePaths } from './schedules/openapi';
import { batchComponents, batchPaths } from './batches/openapi';
import {
  deadLetterBulkComponents,
  deadLetterBulkPaths,
  deadLetterFilterParameters,
} from './dead-letters/openapi';
import { eventComponents, eventPaths } from './live/openapi';
import { taskReplayPath, taskSearchComponents, taskSearchPaths } from './task-search-openapi';

const json = (ref: string) => ({
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const error = (description: string) => ({ description, ...json('Error') });
const taskId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

/** Standard error answers every /v1 route can give. */
const common = {
  '401': error('Missing or invalid API key (when API keys are configured).'),
  '403': error("The API key lacks this route's scope (`missing_scope`; `details` names it)."),
  '503': error('Kafka or Redis is unavailable; see Retry-After.'),
};
const submissionErrors = {
  '400': error('The body is not valid JSON.'),
  '409': error('The Idempotency-Key was used with a different body, or its first request is still running.'),
  '413': error(
    "The body is larger than MAX_BODY_BYTES, or a task's Kafka message would be over the topics' limit (`details` names it).",
  ),
  '415': error('The body is not application/json.'),
  '422': error('A field is not valid; `details` names each one.'),
  '429': error("Over the tenant's rate limit (its own, or RATE_LIMIT_PER_SECOND); see Retry-After."),
};
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Repeat a request safely: the same key and body return the first response (200) while the key lives.',
  schema: { type: 'string', minLength: 1, maxLength: 255 },
};

/** The OpenAPI 3.1 document, built from the schemas validation.ts enforces. */
export function openApiDocument(options: { maxBatchTasks: number; authRequired: boolean; version: string }) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Spillway',
      version: options.version,
      description: 'A task queue that absorbs bursts: HTTP in, Kafka in the middle, status in Redis.',
    },
    ...(options.authRequired && { security: [{ apiKey: [] }] }),
    paths: {
      '/v1/tasks': {
        ...taskSearchPaths(common),
        post: {
          operationId: 'submitTask',
          summary: 'Submit a task; answered once Kafka acknowledged it.',
          parameters: [idempotencyKey],
          requestBody: { required: true, ...json('TaskSubmission') },
          responses: {
            '202': { description: 'Accepted: Kafka holds the task.', ...json('Accepted') },
            '200': {
              description: 'A replay of an earlier request with the same Idempotency-Key.',
              ...json('Accepted'),
            },
            ...submissionErrors,
            ...common,
          },
        },
      },
      '/v1/tasks/batch': {
        post: {
          operationId: 'submitTasks',
          summary: `Submit up to ${options.maxBatchTasks} tasks in one request and one Kafka round trip.`,
          parameters: [idempotencyKey],
          requestBody: { required: true, ...json('BatchSubmission') },
          responses: {
            '202': {
              description: 'The valid tasks were accepted; invalid ones carry their error.',
              ...json('BatchResult'),
            },
            '200': { description: 'A replay (same Idempotency-Key).', ...json('BatchResult') },
            ...submissionErrors,
            ...common,
          },
        },
      },
      '/v1/tasks/{id}': {
        get: {
          operationId: 'getTask',
          summary: 'Read a task; with `wait`, long-poll until it finishes.',
          parameters: [
            taskId,
            {
              name: 'wait',
              in: 'query',
              required: false,
              description: `Seconds to wait for the task to finish (capped at ${LIMITS.waitSeconds}).`,
              schema: { type: 'number', minimum: 0 },
            },
          ],
          responses: {
            '200': { description: 'The task record.', ...json('Task') },
            '404': error('No task with this id (or its record expired).'),
            '422': error('`wait` is not a number.'),
            '429': error(
              'Too many long polls open for this client or API instance (`too_many_waits`); see Retry-After.',
            ),
            ...common,
          },
        },
        delete: {
          operationId: 'cancelTask',
          summary: 'Cancel a task: one not started never runs; a running one is signalled.',
          parameters: [taskId],
          responses: {
            '200': { description: 'The cancelled task.', ...json('Task') },
            '404': error('No task with this id.'),
            '409': error('The task already finished.'),
            ...common,
          },
        },
      },
      '/v1/tasks/{id}/replay': taskReplayPath(common, idempotencyKey),
      '/v1/dead-letters': {
        get: {
          operationId: 'listDeadLetters',
          summary: 'Tasks given up on (and poison messages), newest first, a page at a time.',
          parameters: [
            {
              name: 'limit',
              in: 'query',
              required: false,
              description: 'Items per page.',
              schema: { type: 'integer', minimum: 1, maximum: LIMITS.deadLetterPage, default: 50 },
            },
            {
              name: 'cursor',
              in: 'query',
              required: false,
              description: 'The `nextCursor` of the previous page; newer arrivals do not shift pages.',
              schema: { type: 'string' },
            },
            ...deadLetterFilterParameters,
          ],
          responses: {
            '200': { description: 'One page of dead letters.', ...json('DeadLetterPage') },
            '422': error('`limit`, `cursor`, `reason` or `type` is not valid.'),
            ...common,
          },
        },
      },
      '/v1/dead-letters/{id}/replay': {
        post: {
          operationId: 'replayDeadLetter',
          summary: 'Submit the dead task again as a new task (new id, no delay); once per dead letter.',
          parameters: [{ ...taskId, description: 'The dead letter’s id.' }],
          responses: {
            '202': { description: 'Accepted: Kafka holds the new task.', ...json('ReplayAccepted') },
            '404': error('No dead letter with this id (or it expired).'),
            '409': error(
              '`already_replayed` (the message names the task), `not_replayable` (a poison message) or `replay_in_progress` (see Retry-After).',
            ),
            ...common,
          },
        },
      },
      '/v1/dead-letters/rebuild': {
        post: {
          operationId: 'rebuildDeadLetters',
          summary:
            'Index the dead-letter topic into Redis again: brings back letters Redis lost (a flush, a new Redis) younger than DEAD_LETTER_TTL_SECONDS.',
          responses: {
            '200': { description: 'The topic was read to its end.', ...json('RebuildReport') },
            '409': error(
              '`rebuild_in_progress`: a rebuild is running on this API instance (see Retry-After).',
            ),
            ...common,
          },
        },
      },
      '/v1/stats': {
        get: {
          operationId: 'getStats',
          summary: 'Counts by status, the oldest waiting task, the workers’ Kafka lag, and the dead letters.',
          responses: { '200': { description: 'Queue statistics.', ...json('Stats') }, ...common },
        },
      },
      '/v1/fleet': {
        get: {
          operationId: 'getFleet',
          summary:
            'The worker Deployment, its KEDA ScaledObject and HPA beside the lag, oldest wait and drain rate.',
          responses: {
            '200': { description: 'The fleet view.', ...json('Fleet') },
            '404': error('`fleet_unavailable`: FLEET_NAMESPACE and FLEET_WORKER_DEPLOYMENT are not set.'),
            '502': error(
              'The Kubernetes API failed: `kubernetes_unreachable`, `kubernetes_forbidden`, `fleet_object_not_found` or `kubernetes_error`.',
            ),
            ...common,
          },
        },
      },
      ...deadLetterBulkPaths({ json, error, common }),
      ...schedulePaths({ json, error, common }),
      ...eventPaths({ json, error, common }),
      ...batchPaths({ json, error, common }, submissionErrors),
      ...queuePausePaths(json, error, common),
      '/healthz': {
        get: {
          operationId: 'healthz',
          security: [],
          responses: { '200': { description: 'The process answers.' } },
        },
      },
      '/readyz': {
        get: {
          operationId: 'readyz',
          security: [],
          responses: {
            '200': { description: 'Kafka and Redis answer.' },
            '503': { description: 'A dependency does not answer; the body names it.' },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          security: [],
          responses: { '200': { description: 'Prometheus metrics.' } },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          security: [],
          responses: { '200': { description: 'This document.' } },
        },
      },
    },
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            "A key of API_KEYS or of the keys file. Each key belongs to a tenant (it reaches that tenant's tasks and dead letters only) and has scopes: tasks:submit, tasks:read, tasks:cancel, dead-letters:read, dead-letters:replay, admin (every route and tenant); a route without its scope answers 403 missing_scope.",
        },
      },
      schemas: {
        TaskSubmission: taskSubmissionSchema,
        BatchSubmission: batchSubmissionSchema(options.maxBatchTasks),
        Accepted: acceptedSchema,
        BatchResult: batchResultSchema,
        Task: taskSchema,
        Stats: statsSchema,
        Fleet: fleetSchema,
        DeadLetter: deadLetterSchema,
        DeadLetterPage: deadLetterPageSchema,
        ReplayAccepted: replayAcceptedSchema,
        RebuildReport: rebuildReportSchema,
        ...deadLetterBulkComponents,
        ...taskSearchComponents,
        Error: errorSchema,
        PauseRequest: pauseRequestSchema,
        QueueState: queueStateSchema,
        ...scheduleComponents,
        ...eventComponents,
        ...batchComponents(options.maxBatchTasks),
      },
    },
  };
}
