import type { Request, RequestHandler } from 'express';
import { ApiError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { TaskStore } from '../shared/redis/task-store';
import type { ApiEvents } from './events';
import { FailOpen } from '../shared/fail-open';

export interface TenantBacklogDeps {
  store: Pick<TaskStore, 'openTasks'>;
  /** TENANT_MAX_QUEUED: for tenants without a max-queued of their own; 0: none. */
  defaultMax: number;
  events: Pick<ApiEvents, 'tenantQueueFull' | 'backlogCheckFailedOpen'>;
  logger: Logger;
}

/** How long a client refused for a full backlog is asked to wait: workers need time to drain it. */
const RETRY_AFTER_SECONDS = 5;

/**
 * How long one read of a tenant's count serves this API process: a submission under a burst
 * then costs no Redis round trip of its own (one per tenant per interval instead).
 */
const COUNT_FRESH_MS = 100;

interface CountReading {
  at: number;
  /** The count read, plus what this process accepted since (so it does not wait to see them). */
  open: Promise<number>;
}

/**
 * A tenant's maximum queued: while it has that many unfinished tasks (queued, scheduled, running
 * or retrying), its submissions get 429 `tenant_queue_full`; one burst cannot fill Redis and
 * Kafka for everyone. The count is read before the submission, at most every COUNT_FRESH_MS per
 * API process (this process's own acceptances added meanwhile), so other replicas' submissions
 * and concurrent ones may take a tenant past its limit by what they carry in that time: a bound
 * on the backlog, not an exact quota. When Redis cannot answer, submissions go through (see
 * FailOpen).
 */
export class TenantBacklog {
  private readonly failOpen: FailOpen;
  private readonly readings = new Map<string, CountReading>();

  constructor(private readonly deps: TenantBacklogDeps) {
    this.failOpen = new FailOpen('tenant backlog', deps.logger, () => deps.events.backlogCheckFailedOpen());
  }

  /** Middleware: refuses the submission when its tenant is at its maximum; `cost(req)` tasks are counted once it passes. */
  check(cost: (req: Request) => number): RequestHandler {
    return async (req, _res, next) => {
      const { tenant } = req.caller;
      const max = tenant.maxQueued ?? this.deps.defaultMax;
      if (max === 0 || this.failOpen.bypassing) return next();
      let open;
      try {
        open = await this.openOf(tenant.name);
      } catch (err) {
        this.readings.delete(tenant.name);
        this.failOpen.failed(err);
        return next();
      }
      if (open < max) {
        this.counted(tenant.name, cost(req));
        return next();
      }
      this.deps.events.tenantQueueFull(tenant.name);
      throw new ApiError(
        429,
        'tenant_queue_full',
        `tenant "${tenant.name}" has ${open} unfinished tasks, its maximum queued is ${max}; retry once some finish`,
        [],
        RETRY_AFTER_SECONDS,
      );
    };
  }

  private openOf(tenant: string): Promise<number> {
    const reading = this.readings.get(tenant);
    if (reading && Date.now() - reading.at < COUNT_FRESH_MS) return reading.open;
    const fresh = { at: Date.now(), open: this.deps.store.openTasks(tenant) };
    this.readings.set(tenant, fresh);
    // Tenants come from the keys file, so the map is bounded; a failed read is not kept.
    fresh.open.catch(() => this.readings.delete(tenant));
    return fresh.open;
  }

  private counted(tenant: string, tasks: number): void {
    const reading = this.readings.get(tenant);
    if (reading) reading.open = reading.open.then((n) => n + tasks);
  }
}
