import { enqueueTasks, type EnqueueDeps } from '../../shared/enqueue-tasks';
import { errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { ScheduleStore, StoredSchedule } from '../../shared/redis/schedule-store';
import { fireTimesOf } from '../../shared/schedules/fire-times';
import { tickTaskId, type Schedule } from '../../shared/schedules/schedule';
import type { TaskMessage } from '../../shared/task';
import { DEFAULT_TENANT } from '../../shared/tenancy/tenant';
import { planTicks } from './tick-plan';

/** What the firer reports; WorkerMetrics turns it into metrics. */
export interface ScheduleEvents {
  ticksFired(count: number): void;
  ticksSkipped(count: number): void;
}

export interface FiringOptions {
  /** How often a firer looks for due schedules (SCHEDULE_POLL_MS): how late a tick may start. */
  pollMs: number;
  /** Ticks older than this when found were missed (SCHEDULE_MISFIRE_GRACE_MS); see tick-plan.ts. */
  graceMs: number;
  /** How long a firer holds a schedule while it publishes its ticks. */
  leaseMs: number;
}

export interface ScheduleFirerDeps {
  store: Pick<ScheduleStore, 'due' | 'lease' | 'release' | 'get' | 'advance'>;
  enqueue: EnqueueDeps;
  /** Names this worker process in leases. */
  holder: string;
  options: FiringOptions;
  events: ScheduleEvents;
  logger: Logger;
}

/** Due schedules one poll takes at most; a full poll looks again at once. */
const DUE_PER_POLL = 100;

/**
 * Fires the ticks of every schedule; every worker process runs one. A tick fires exactly once
 * however many firers find it due, because its task id derives from the schedule and the tick's
 * time (tickTaskId) and workers run an id once. The lease and the compare-and-set on the cursor
 * only keep the firers from doing the same work twice: the lease so that, normally, one firer
 * publishes a schedule's ticks; the cursor so that a tick is handled once it is published. The
 * order (publish, then move the cursor) means a firer that dies in between leaves the tick due,
 * and the next firer publishes the same id again rather than losing it.
 */
export class ScheduleFirer {
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private stopped = false;

  constructor(private readonly deps: ScheduleFirerDeps) {}

  start(): void {
    const loop = () => {
      this.polling = this.fireDue()
        .then((full) => {
          if (!this.stopped) this.timer = setTimeout(loop, full ? 0 : this.deps.options.pollMs);
        })
        .catch(() => undefined);
    };
    loop();
  }

  /** Ends the polling; a firing in progress finishes first. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  /** One poll: fires what is due now. Resolves true when there may be more due (a full page). */
  async fireDue(now = Date.now()): Promise<boolean> {
    let ids: string[];
    try {
      ids = await this.deps.store.due(now, DUE_PER_POLL);
    } catch (err) {
      this.deps.logger.warn('due schedules not read', { error: errorMessage(err) });
      return false;
    }
    for (const id of ids) {
      if (this.stopped) return false;
      await this.fireLeased(id);
    }
    return ids.length === DUE_PER_POLL;
  }

  private async fireLeased(id: string): Promise<void> {
    const { store, holder, options, logger } = this.deps;
    try {
      if (!(await store.lease(id, holder, options.leaseMs))) return;
    } catch (err) {
      logger.warn('schedule lease not taken', { schedule: id, error: errorMessage(err) });
      return;
    }
    try {
      // Read under the lease: the last holder's cursor is the one to start from.
      const stored = await store.get(id);
      if (stored && stored.schedule.state === 'active') await this.fire(stored, Date.now());
    } catch (err) {
      // The cursor did not move: the next poll (here or on another worker) tries the same ticks.
      logger.warn('schedule not fired', { schedule: id, error: errorMessage(err) });
    } finally {
      await store.release(id, holder).catch(() => undefined);
    }
  }

  private async fire({ schedule, cursor, revision }: StoredSchedule, now: number): Promise<void> {
    const { store, enqueue, options, events } = this.deps;
    const times = fireTimesOf(schedule.timing);
    const plan = planTicks(times, schedule, cursor, now, options.graceMs);
    if (plan.fire.length > 0) {
      await enqueueTasks(
        enqueue,
        plan.fire.map((tick) => tickTask(schedule, tick, now)),
      );
      events.ticksFired(plan.fire.length);
    }
    const advanced = await store.advance(schedule.id, {
      revision,
      fromCursor: cursor,
      toCursor: plan.cursor,
      nextTickAt: times.after(plan.cursor),
      lastFiredAt: plan.fire.at(-1),
    });
    // Not advanced: the schedule changed or was deleted meanwhile; what it now says stands.
    if (advanced && plan.skipped > 0) {
      events.ticksSkipped(plan.skipped);
      this.deps.logger.info('missed ticks skipped', {
        schedule: schedule.id,
        skipped: plan.skipped,
        policy: schedule.missed,
      });
    }
  }
}

/** The task one tick submits: its template, under the schedule's tenant, carrying the schedule's id. */
export function tickTask(schedule: Schedule, tickAt: number, now: number): TaskMessage {
  return {
    ...schedule.task,
    id: tickTaskId(schedule.id, tickAt),
    enqueuedAt: now,
    // The default tenant's messages carry no tenant, as the API's do.
    ...(schedule.tenant !== DEFAULT_TENANT && { tenant: schedule.tenant }),
    schedule: schedule.id,
  };
}
