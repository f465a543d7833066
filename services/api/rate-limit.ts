import type { Request, RequestHandler } from 'express';
import { ApiError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { RateLimiter } from '../shared/redis/rate-limiter';
import type { RateLimit } from '../shared/tenancy/tenant';
import type { ApiEvents } from './events';

/** After a failed check, submissions skip the limiter this long instead of each waiting out its timeout. */
const BYPASS_AFTER_FAILURE_MS = 1000;
/** At most one warning this often while Redis does not answer: a burst would otherwise log per request. */
const WARN_EVERY_MS = 10_000;

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
 *
 * When Redis cannot answer, the submission goes through (fail open). The limiter protects
 * fairness between clients, not correctness: a submission needs only Kafka to be accepted, so
 * refusing work Kafka would take because a counter is unreachable would turn a Redis outage into
 * a submission outage, which is the kind of burst Spillway exists to absorb.
 */
export class SubmissionLimit {
  private bypassUntil = 0;
  private lastWarning = 0;

  constructor(private readonly deps: SubmissionLimitDeps) {}

  /** Middleware charging `cost(req)` tokens (1 for a task, the item count for a batch). */
  charge(cost: (req: Request) => number): RequestHandler {
    return async (req, _res, next) => {
      const rate = req.caller.tenant.rate ?? this.deps.defaultRate;
      if (!rate || rate.perSecond === 0) return next();
      const now = Date.now();
      if (now < this.bypassUntil) return next();
      let decision;
      try {
        decision = await this.deps.limiter.take(subjectOf(req), cost(req), rate);
      } catch (err) {
        this.failedOpen(err);
        return next();
      }
      if (!decision.allowed) {
        this.deps.events.rateLimited();
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

  private failedOpen(err: unknown): void {
    const now = Date.now();
    this.bypassUntil = now + BYPASS_AFTER_FAILURE_MS;
    this.deps.events.rateLimiterFailedOpen();
    if (now - this.lastWarning >= WARN_EVERY_MS) {
      this.lastWarning = now;
      this.deps.logger.warn('rate limit not checked; letting submissions through', { error: String(err) });
    }
  }
}

/** Whose bucket a request spends: its tenant's, or its address's when auth is off (one tenant). */
function subjectOf(req: Request): string {
  const { caller } = req;
  return caller.principal === 'anonymous' ? `ip:${req.ip ?? 'unknown'}` : `tenant:${caller.tenant.name}`;
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
