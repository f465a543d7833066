import {
  scheduleCreateSchema,
  scheduleListSchema,
  schedulePatchSchema,
  scheduleSchema,
  taskTemplateSchema,
} from './schemas';

/** What openapi.ts shares with the schedule paths: its response builders and the common errors. */
export interface OpenApiParts {
  json(ref: string): object;
  error(description: string): object;
  common: Record<string, object>;
}

const TEMPLATE = { $ref: '#/components/schemas/TaskTemplate' };

/** The component schemas the schedule paths name. */
export const scheduleComponents = {
  TaskTemplate: taskTemplateSchema,
  ScheduleCreate: scheduleCreateSchema(TEMPLATE),
  SchedulePatch: schedulePatchSchema(TEMPLATE),
  Schedule: scheduleSchema,
  ScheduleList: scheduleListSchema,
};

/** /v1/schedules and /v1/schedules/{id}. */
export function schedulePaths({ json, error, common }: OpenApiParts) {
  const scheduleId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const bodyErrors = {
    '400': error('The body is not valid JSON.'),
    '415': error('The body is not application/json.'),
    '422': error(
      '`validation_failed`: a field is not valid (a cron expression, a time zone, the task as a submission would be); `details` names each one, the task’s as `task.<field>`.',
    ),
  };
  const notFound = error(
    "`schedule_not_found`: no schedule with this id, or another tenant's; `schedules_unavailable` when the API has no schedule store.",
  );
  return {
    '/v1/schedules': {
      post: {
        operationId: 'createSchedule',
        summary:
          'Create a recurring schedule: every tick submits its task, exactly once (scope tasks:submit).',
        requestBody: { required: true, ...json('ScheduleCreate') },
        responses: {
          '201': { description: 'Created; the workers fire it from now.', ...json('Schedule') },
          ...bodyErrors,
          ...common,
        },
      },
      get: {
        operationId: 'listSchedules',
        summary: "The caller tenant's schedules (admin: every tenant's), each with its next five fire times.",
        responses: { '200': { description: 'The schedules.', ...json('ScheduleList') }, ...common },
      },
    },
    '/v1/schedules/{id}': {
      get: {
        operationId: 'getSchedule',
        summary: 'Read a schedule, its next five fire times and its last tick (scope tasks:read).',
        parameters: [scheduleId],
        responses: {
          '200': { description: 'The schedule.', ...json('Schedule') },
          '404': notFound,
          ...common,
        },
      },
      patch: {
        operationId: 'updateSchedule',
        summary: 'Pause (`paused: true`), resume, or change a schedule (scope tasks:submit).',
        parameters: [scheduleId],
        requestBody: { required: true, ...json('SchedulePatch') },
        responses: {
          '200': { description: 'The schedule as changed.', ...json('Schedule') },
          '404': notFound,
          ...bodyErrors,
          ...common,
        },
      },
      delete: {
        operationId: 'deleteSchedule',
        summary:
          'Delete a schedule: it fires no more ticks; tasks it submitted are left alone (scope tasks:submit).',
        parameters: [scheduleId],
        responses: { '204': { description: 'Deleted.' }, '404': notFound, ...common },
      },
    },
  };
}
