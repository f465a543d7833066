import type { Request, RequestHandler } from 'express';
import { ApiError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { RateLimiter } from '../shared/redis/rate-limiter';
import type { RateLimit } from '../shared/tenancy/tenant';
import { clientOf } from './auth';
import type { ApiEvents } from './events';
import { FailOpen } from '../shared/fail-open';

export interface SubmissionLimitDeps {
  limiter: RateLimiter;
  /** RATE_LIMIT_PER_SECOND and _BURST: for tenants without a rate of their own; absent: none. */
  defaultRate?: RateLimit;
  events: Pick<ApiEvents, 'rateLimited' | 'rateLimiterFailedOpen'>;
  logger: Logger;
}

/**
 * Charges submissions to their tenant's token bucket (shared by all of its keys and API
 * replicas), or to the client's address when auth is off. The tenant's own rate (keys file)
 * applies, else the default; a rate of 0 is no limit. Over it: 429 `rate_limited` with Retry-After.
 * When Redis cannot answer, the submission goes through (see FailOpen).
 */
export class SubmissionLimit {
  private readonly failOpen: FailOpen;

  constructor(private readonly deps: SubmissionLimitDeps) {
    this.failOpen = new FailOpen('rate limit', deps.logger, () => deps.events.rateLimiterFailedOpen());
  }

  /** Middleware charging `cost(req)` tokens (1 for a task, the item count for a batch). */
  charge(cost: (req: Request) => number): RequestHandler {
    return async (req, _res, next) => {
      const rate = req.caller.tenant.rate ?? this.deps.defaultRate;
      if (!rate || rate.perSecond === 0) return next();
      if (this.failOpen.bypassing) return next();
      let decision;
      try {
        decision = await this.deps.limiter.take(subjectOf(req), cost(req), rate);
      } catch (err) {
        this.failOpen.failed(err);
        return next();
      }
      if (!decision.allowed) {
        this.deps.events.rateLimited(req.caller.tenant.name);
        const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        throw new ApiError(
          429,
          'rate_limited',
          `too many submissions for this ${req.caller.principal === 'anonymous' ? 'client' : 'tenant'}; retry in ${seconds} s`,
          [],
          seconds,
        );
      }
      next();
    };
  }
}

/** Whose bucket a request spends: its tenant's, or its address's when auth is off (one tenant). */
function subjectOf(req: Request): string {
  return req.caller.principal === 'anonymous' ? clientOf(req) : `tenant:${req.caller.tenant.name}`;
}

/**
 * What a batch costs: its item count, at most `maxTasks` (a bigger batch is refused by the
 * validator after this, and should not leave its sender in debt for tasks never accepted).
 */
export function batchCost(maxTasks: number): (req: Request) => number {
  return (req) => {
    const tasks = (req.body as { tasks?: unknown } | undefined)?.tasks;
    return Array.isArray(tasks) ? Math.min(Math.max(tasks.length, 1), maxTasks) : 1;
  };
}
