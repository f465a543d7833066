import { nullable, TASK_TYPE_PATTERN, timestamp } from './schemas';

/**
 * JSON Schemas of the queue's pause routes (GET /v1/queue, POST /v1/queue/pause and /resume),
 * and their OpenAPI paths: routes/queue.ts checks requests with the first and openapi.ts
 * publishes both.
 */

export const pauseRequestSchema = {
  type: 'object',
  description:
    'Which scope to pause or resume: no body (or `{}`) for the whole queue, `{"type": "..."}` for one task type. The two are independent: resuming the queue leaves paused types paused.',
  additionalProperties: false,
  properties: {
    type: {
      type: 'string',
      pattern: TASK_TYPE_PATTERN,
      description: 'A task type: its tasks do not start until it is resumed; other types run.',
      examples: ['email'],
    },
  },
} as const;

export const AUTOSCALING_OUTCOMES = ['paused', 'resumed', 'unmanaged', 'failed'] as const;

export const queueStateSchema = {
  type: 'object',
  description: 'What is paused now.',
  required: ['paused', 'pausedAt', 'pausedTypes'],
  additionalProperties: false,
  properties: {
    paused: { type: 'boolean', description: 'True while the whole queue is paused.' },
    pausedAt: {
      ...nullable(timestamp),
      description: 'When the whole queue was paused; null when it is not.',
    },
    pausedTypes: {
      type: 'array',
      description: 'Task types paused on their own, by name.',
      items: {
        type: 'object',
        required: ['type', 'pausedAt'],
        additionalProperties: false,
        properties: { type: { type: 'string' }, pausedAt: timestamp },
      },
    },
    autoscaling: {
      enum: [...AUTOSCALING_OUTCOMES],
      description:
        "Only in the answer to a pause or resume: what became of the workers' KEDA ScaledObject. `paused` (its pause annotation is set: it stays paused while any scope is), `resumed` (removed: nothing is paused), `unmanaged` (FLEET_PAUSE_AUTOSCALING is off, or the API runs outside a cluster), `failed` (the patch failed; `autoscalingError` says why, and the API tries again every minute). The pause itself holds either way.",
    },
    autoscalingError: { type: 'string', description: 'Why the ScaledObject could not be patched.' },
  },
} as const;

type Json = (ref: string) => object;
type ErrorAnswer = (description: string) => object;

/** The OpenAPI paths of the pause routes; `common` holds the 401/403/503 answers of every /v1 route. */
export function queuePausePaths(json: Json, error: ErrorAnswer, common: object) {
  const change = (verb: 'pause' | 'resume', summary: string) => ({
    post: {
      operationId: `${verb}Queue`,
      summary,
      requestBody: { required: false, ...json('PauseRequest') },
      responses: {
        '200': { description: 'The pause state after the change.', ...json('QueueState') },
        '415': error('A body was sent, not as application/json.'),
        '422': error(
          '`validation_failed`: the body is not an object, has an unknown field, or `type` is not a task type; `details` names the field.',
        ),
        ...common,
      },
    },
  });
  return {
    '/v1/queue': {
      get: {
        operationId: 'getQueue',
        summary: 'What is paused: the whole queue and task types.',
        responses: { '200': { description: 'The pause state.', ...json('QueueState') }, ...common },
      },
    },
    '/v1/queue/pause': change(
      'pause',
      'Pause the queue, or one task type: workers start no task of it within a second, finish those running, and stay in their consumer groups. Scope `admin`.',
    ),
    '/v1/queue/resume': change(
      'resume',
      'Resume the queue, or one task type: its held and waiting tasks run. Scope `admin`.',
    ),
  };
}
