import type { Logger } from './logger';

/** After a failed check, work skips it this long instead of each waiting out its timeout. */
const BYPASS_AFTER_FAILURE_MS = 1000;
/** At most one warning this often while Redis does not answer: a burst would otherwise log per request. */
const WARN_EVERY_MS = 10_000;

/**
 * A fairness check kept in Redis (a rate, a tenant's backlog, a tenant's running tasks) that lets
 * work through when Redis does not answer. Such checks protect fairness between tenants, not
 * correctness: a submission needs only Kafka to be accepted, so refusing work Kafka would take
 * because a counter is unreachable would turn a Redis outage into a submission outage, which is
 * the kind of burst Spillway exists to absorb.
 */
export class FailOpen {
  private bypassUntil = 0;
  private lastWarning = 0;

  constructor(
    /** What is not checked, for the log: "rate limit". */
    private readonly what: string,
    private readonly logger: Logger,
    /** Counts each piece of work let through unchecked. */
    private readonly counted: () => void,
  ) {}

  /** True for a moment after a failure: skip the check rather than wait for Redis again. */
  get bypassing(): boolean {
    return Date.now() < this.bypassUntil;
  }

  /** The check failed: this work goes through, and so does the next second's. */
  failed(err: unknown): void {
    const now = Date.now();
    this.bypassUntil = now + BYPASS_AFTER_FAILURE_MS;
    this.counted();
    if (now - this.lastWarning >= WARN_EVERY_MS) {
      this.lastWarning = now;
      this.logger.warn(`${this.what} not checked; letting work through`, { error: String(err) });
    }
  }
}
