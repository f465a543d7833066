import type { ValidateFunction } from 'ajv/dist/2020';
import { ApiError, errorMessage, type ErrorDetail } from '../../shared/errors';
import { checkCron, isTimeZone } from '../../shared/schedules/fire-times';
import {
  DEFAULT_MAX_CATCH_UP,
  type MissedPolicy,
  type Schedule,
  type ScheduleTiming,
  type TaskTemplate,
} from '../../shared/schedules/schedule';
import type { JsonValue } from '../../shared/task';
import { compileSchema, invalid, toDetails, type Validator } from '../validation';
import { scheduleCreateSchema, schedulePatchSchema } from './schemas';

/** What a valid POST /v1/schedules body defines; the route adds the id, tenant and times. */
export type ScheduleDefinition = Pick<Schedule, 'timing' | 'task' | 'missed' | 'maxCatchUp' | 'state'>;

/** A valid PATCH body applied to a schedule, and whether its ticks must start again from now. */
export interface ScheduleChange {
  definition: ScheduleDefinition;
  /** A new timing, or a pause or resume: the cursor moves to now. */
  restart: boolean;
}

type Body = Record<string, JsonValue | undefined>;

// The envelope only: `task` is checked as a task submission, so its errors read the same.
const checkCreate = compileSchema(scheduleCreateSchema({ type: 'object' }));
const checkPatch = compileSchema(schedulePatchSchema({ type: 'object' }));

/** Checks schedule bodies, naming every bad field (422 validation_failed), the task's as `task.<field>`. */
export class ScheduleValidator {
  constructor(private readonly tasks: Validator) {}

  create(body: unknown, now: number): ScheduleDefinition {
    const fields = this.envelope(checkCreate, body);
    const details: ErrorDetail[] = [];
    if (fields.cron === undefined && fields.intervalMs === undefined) {
      details.push({ field: 'cron', message: 'give cron or intervalMs' });
    }
    const timing = this.timing(fields, undefined, now, details);
    const task = this.template(fields.task, now, details);
    if (details.length > 0 || !timing || !task) throw invalid('the schedule is not valid', details);
    return {
      timing,
      task,
      missed: (fields.missed as MissedPolicy | undefined) ?? 'skip',
      maxCatchUp: (fields.maxCatchUp as number | undefined) ?? DEFAULT_MAX_CATCH_UP,
      state: fields.paused === true ? 'paused' : 'active',
    };
  }

  patch(body: unknown, current: Schedule, now: number): ScheduleChange {
    const fields = this.envelope(checkPatch, body);
    const details: ErrorDetail[] = [];
    const retimed =
      fields.cron !== undefined || fields.intervalMs !== undefined || fields.timeZone !== undefined;
    const timing = retimed ? this.timing(fields, current.timing, now, details) : current.timing;
    const task = fields.task === undefined ? current.task : this.template(fields.task, now, details);
    if (details.length > 0 || !timing || !task) throw invalid('the change is not valid', details);
    const state = fields.paused === undefined ? current.state : fields.paused ? 'paused' : 'active';
    return {
      definition: {
        timing,
        task,
        missed: (fields.missed as MissedPolicy | undefined) ?? current.missed,
        maxCatchUp: (fields.maxCatchUp as number | undefined) ?? current.maxCatchUp,
        state,
      },
      restart: retimed || state !== current.state,
    };
  }

  private envelope(check: ValidateFunction, body: unknown): Body {
    if (!check(body)) throw invalid('the schedule is not valid', toDetails(check.errors ?? [], ''));
    return body as Body;
  }

  /** The timing the fields give (a PATCH's timeZone alone re-reads the current cron in it). */
  private timing(
    fields: Body,
    current: ScheduleTiming | undefined,
    now: number,
    details: ErrorDetail[],
  ): ScheduleTiming | undefined {
    if (fields.cron !== undefined && fields.intervalMs !== undefined) {
      details.push({ field: 'intervalMs', message: 'give cron or intervalMs, not both' });
      return undefined;
    }
    if (typeof fields.intervalMs === 'number') {
      if (fields.timeZone !== undefined) details.push({ field: 'timeZone', message: 'only with cron' });
      return { intervalMs: fields.intervalMs, anchorAt: now };
    }
    const cron =
      (fields.cron as string | undefined) ?? (current && 'cron' in current ? current.cron : undefined);
    if (cron === undefined) {
      details.push({ field: 'timeZone', message: 'only with cron' });
      return undefined;
    }
    const timeZone =
      (fields.timeZone as string | undefined) ??
      (fields.cron === undefined && current && 'cron' in current ? current.timeZone : 'UTC');
    if (!isTimeZone(timeZone)) {
      details.push({
        field: 'timeZone',
        message: `"${timeZone}" is not an IANA time zone (e.g. Europe/Berlin)`,
      });
      return undefined;
    }
    try {
      checkCron(cron, timeZone);
    } catch (err) {
      details.push({ field: 'cron', message: `not a cron expression: ${errorMessage(err)}` });
      return undefined;
    }
    return { cron, timeZone };
  }

  /** The task as every tick will submit it: checked as a submission now, without a start time. */
  private template(
    raw: JsonValue | undefined,
    now: number,
    details: ErrorDetail[],
  ): TaskTemplate | undefined {
    const task = raw as Record<string, JsonValue>;
    for (const field of ['delayMs', 'runAt'] as const) {
      if (task[field] !== undefined) {
        details.push({
          field: `task.${field}`,
          message: "not in a schedule's task: its ticks say when it runs",
        });
      }
    }
    try {
      const { runAt: _runAt, ...template } = this.tasks.submission(raw, now, 'task.');
      return template;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      details.push(...err.details);
      return undefined;
    }
  }
}
