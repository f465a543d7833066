import type { OpenApiParts } from '../schedules/openapi';
import { TASK_STATUSES } from '../../shared/task';
import { STREAM_TASKS_VALUES } from '../task-filter';

const TOTALS = ['submitted', 'started', 'succeeded', 'failed', 'cancelled'];

/** The `data:` of the stream's events, for clients to check what they parse (docs/api.md, "Live events"). */
export const eventComponents = {
  TaskEvent: {
    type: 'object',
    description: 'The data of an `event: task`: one change of status of a task the caller may see.',
    required: ['id', 'type', 'tenant', 'status', 'at', 'key'],
    additionalProperties: false,
    properties: {
      id: { type: 'string' },
      type: { type: 'string' },
      tenant: { type: 'string' },
      status: { enum: [...TASK_STATUSES] },
      at: { type: 'string', format: 'date-time', description: 'When the change was recorded (Redis clock).' },
      key: { type: ['string', 'null'], description: 'The ordering key; null when the task has none.' },
    },
  },
  RatesEvent: {
    type: 'object',
    description: 'The data of an `event: rates` (admin keys only), once a second.',
    required: ['at', 'intervalSeconds', 'perSecond', 'counts'],
    additionalProperties: false,
    properties: {
      at: { type: 'string', format: 'date-time' },
      intervalSeconds: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'Seconds between the two readings the rates come from (about 1).',
      },
      perSecond: {
        type: 'object',
        description:
          'Tasks per second over the interval that were submitted, started (an attempt), and finished so.',
        required: TOTALS,
        additionalProperties: false,
        properties: Object.fromEntries(TOTALS.map((name) => [name, { type: 'number', minimum: 0 }])),
      },
      counts: {
        type: 'object',
        description: 'As GET /v1/stats `counts`, read at `at`.',
        required: [...TASK_STATUSES],
        additionalProperties: false,
        properties: Object.fromEntries(TASK_STATUSES.map((s) => [s, { type: 'integer' }])),
      },
    },
  },
};

const query = (name: string, description: string) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: { type: 'string', minLength: 1 },
});

/** GET /v1/events. */
export function eventPaths({ error, common }: OpenApiParts) {
  return {
    '/v1/events': {
      get: {
        operationId: 'streamEvents',
        summary: 'Live changes of status, as Server-Sent Events; admin keys also get the queue’s rates.',
        description:
          'Scope tasks:read. Read with fetch and a stream reader (EventSource cannot send the Authorization header). Events are a live view, not a log: after a reconnect, GET /v1/tasks says what changed meanwhile.',
        parameters: [
          query('status', `One status or a comma list (${TASK_STATUSES.join(', ')}).`),
          query('type', 'Exactly this task type.'),
          query('tenant', 'Exactly this tenant; a key that is not admin may give only its own (else 403).'),
          query('key', 'Tasks whose ordering key starts with this.'),
          query('id', 'Tasks whose id starts with this.'),
          {
            name: 'tasks',
            in: 'query',
            required: false,
            description:
              '`none`: no `event: task` frames at all, only the rates (admin keys) and keep-alives, for a client that draws the rates alone.',
            schema: { enum: [...STREAM_TASKS_VALUES], default: 'all' },
          },
        ],
        responses: {
          '200': {
            description:
              'A stream that starts with `retry: 2000`, then `event: task` frames (data: TaskEvent), `event: rates` frames once a second for admin keys (data: RatesEvent), and a `: keep-alive` comment every 15 s. A client that leaves more than EVENTS_MAX_UNSENT_BYTES unread is disconnected.',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          '404': error('`events_off`: the queue keeps no task events (TASK_INDEXES=false).'),
          '422': error(
            '`validation_failed`: a parameter is not valid (`tasks` other than `all` or `none`, say), or not one of this route (`since`, `until`, `q`, `limit`, `cursor` are the listing’s); `details` names it.',
          ),
          ...common,
          '503': error(
            '`too_many_streams`: EVENTS_MAX_CLIENTS streams are open on this API instance (see Retry-After); or Redis is unavailable.',
          ),
        },
      },
    },
  };
}
