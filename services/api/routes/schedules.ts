import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { ApiError } from '../../shared/errors';
import type { ScheduleStore, StoredSchedule } from '../../shared/redis/schedule-store';
import { fireTimesOf, nextFireTimes } from '../../shared/schedules/fire-times';
import { tickTaskId, type Schedule } from '../../shared/schedules/schedule';
import { canSee, requireScope } from '../auth';
import { requireJson } from '../http';
import { SCHEDULE_LIMITS } from '../schedules/schemas';
import type { ScheduleDefinition, ScheduleValidator } from '../schedules/validation';

export interface ScheduleRoutesDeps {
  /** Absent: the schedule routes answer 404 schedules_unavailable. */
  schedules?: ScheduleStore;
  scheduleValidator: ScheduleValidator;
}

/**
 * /v1/schedules: recurring schedules, tenant-scoped like tasks (another tenant's schedule is not
 * found; admin sees every one). The workers fire them (services/worker/schedules/firer.ts).
 */
export function schedulesRouter(deps: ScheduleRoutesDeps): Router {
  const router = Router();
  const validator = deps.scheduleValidator;
  const change = requireScope<{ id: string }>('tasks:submit');
  const read = requireScope<{ id: string }>('tasks:read');

  const storeOf = (): ScheduleStore => {
    if (!deps.schedules)
      throw new ApiError(404, 'schedules_unavailable', 'schedules are not set up on this API');
    return deps.schedules;
  };
  /** The schedule, if it exists and the caller may see it: another tenant's is not found. */
  const visible = async (req: Request<{ id: string }>): Promise<StoredSchedule> => {
    const stored = await storeOf().get(req.params.id);
    if (!stored || !canSee(req.caller, stored.schedule.tenant)) throw notFound(req.params.id);
    return stored;
  };

  router.post('/v1/schedules', change, requireJson, async (req, res) => {
    const now = Date.now();
    const definition = validator.create(req.body, now);
    const schedule: Schedule = {
      id: randomUUID(),
      tenant: req.caller.tenant.name,
      ...definition,
      createdAt: now,
      updatedAt: now,
    };
    await storeOf().create(schedule, startAt(definition, now));
    res.status(201).location(`/v1/schedules/${schedule.id}`);
    res.json(scheduleView({ schedule, cursor: now, revision: 1 }, now));
  });

  router.get('/v1/schedules', read, async (req, res) => {
    const all = req.caller.scopes.has('admin');
    const stored = await storeOf().list(all ? undefined : req.caller.tenant.name);
    const now = Date.now();
    res.json({ items: stored.map((s) => scheduleView(s, now)) });
  });

  router.get('/v1/schedules/:id', read, async (req, res) => {
    res.json(scheduleView(await visible(req), Date.now()));
  });

  router.patch('/v1/schedules/:id', change, requireJson, async (req, res) => {
    const current = await visible(req);
    const now = Date.now();
    const { definition, restart } = validator.patch(req.body, current.schedule, now);
    const schedule: Schedule = { ...current.schedule, ...definition, updatedAt: now };
    const restarted = restart ? startAt(definition, now) : undefined;
    if (!(await storeOf().update(schedule, restarted))) throw notFound(schedule.id);
    const cursor = restarted?.cursor ?? current.cursor;
    res.json(scheduleView({ ...current, schedule, cursor }, now));
  });

  router.delete('/v1/schedules/:id', change, async (req, res) => {
    const { schedule } = await visible(req);
    if (!(await storeOf().delete(schedule.id))) throw notFound(schedule.id);
    res.status(204).end();
  });

  return router;
}

/** Firing starts from `now`: an active schedule is next due at its first tick after it. */
function startAt(definition: ScheduleDefinition, now: number) {
  const nextTickAt = definition.state === 'active' ? fireTimesOf(definition.timing).after(now) : undefined;
  return { cursor: now, nextTickAt };
}

/** A schedule as the API shows it (schedules/schemas.ts scheduleSchema). */
export function scheduleView({ schedule, cursor, lastFiredAt }: StoredSchedule, now: number) {
  const { timing } = schedule;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: schedule.id,
    tenant: schedule.tenant,
    state: schedule.state,
    cron: 'cron' in timing ? timing.cron : null,
    timeZone: 'cron' in timing ? timing.timeZone : null,
    intervalMs: 'intervalMs' in timing ? timing.intervalMs : null,
    task: schedule.task,
    missed: schedule.missed,
    maxCatchUp: schedule.maxCatchUp,
    createdAt: iso(schedule.createdAt),
    updatedAt: iso(schedule.updatedAt),
    // A due tick not fired yet (after the cursor, before now) fires within a poll: the list starts at now.
    nextFireTimes:
      schedule.state === 'active'
        ? nextFireTimes(timing, Math.max(cursor, now), SCHEDULE_LIMITS.nextFireTimes).map(iso)
        : [],
    lastTick:
      lastFiredAt === undefined
        ? null
        : { at: iso(lastFiredAt), taskId: tickTaskId(schedule.id, lastFiredAt) },
  };
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'schedule_not_found', `no schedule with id "${id}"`);
}
