import type { RequestHandler } from 'express';
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
 * A tenant's maximum queued: while it has that many unfinished tasks (queued, scheduled, running
 * or retrying), its submissions get 429 `tenant_queue_full`; one burst cannot fill Redis and
 * Kafka for everyone. The count is read before the submission, so concurrent submissions may
 * take a tenant past its limit by what they carry (at most a batch each): a bound on the backlog,
 * not an exact quota. When Redis cannot answer, submissions go through (see FailOpen).
 */
export class TenantBacklog {
  private readonly failOpen: FailOpen;

  constructor(private readonly deps: TenantBacklogDeps) {
    this.failOpen = new FailOpen('tenant backlog', deps.logger, () => deps.events.backlogCheckFailedOpen());
  }

  readonly check: RequestHandler = async (req, _res, next) => {
    const { tenant } = req.caller;
    const max = tenant.maxQueued ?? this.deps.defaultMax;
    if (max === 0 || this.failOpen.bypassing) return next();
    let open;
    try {
      open = await this.deps.store.openTasks(tenant.name);
    } catch (err) {
      this.failOpen.failed(err);
      return next();
    }
    if (open < max) return next();
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
