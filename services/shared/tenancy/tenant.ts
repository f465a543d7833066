/**
 * A tenant: whose tasks these are. Every task, dead letter and Idempotency-Key belongs to one;
 * a key sees its own tenant's only (unless it has the `admin` scope).
 */

/** The tenant of API_KEYS keys, of an API without keys, and of tasks submitted before tenants. */
export const DEFAULT_TENANT = 'default';

/** Lowercase letters, digits and dashes, 1 to 63 characters (a DNS label: it names metrics and keys). */
export const TENANT_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Submissions a tenant may make, in tasks: `perSecond` refilled each second, up to `burst`. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export interface Tenant {
  name: string;
  /** Its own submission rate; absent: the API's RATE_LIMIT_PER_SECOND applies. */
  rate?: RateLimit;
  /**
   * Its own limit on unfinished tasks (0: none); absent: the API's TENANT_MAX_QUEUED applies.
   * Submissions are refused while it has this many queued, scheduled or running.
   */
  maxQueued?: number;
  /**
   * Its own limit on tasks running at once across every worker (0: none); absent: the API's
   * TENANT_MAX_RUNNING applies. Workers enforce it with leases in Redis.
   */
  maxRunning?: number;
  /**
   * Its own spill allowance; absent: the API's TENANT_SPILL_RATE applies. Tasks submitted beyond
   * it wait in the overflow lane (docs/priorities.md#fairness-under-a-burst); a rate of 0: none.
   */
  spill?: RateLimit;
}

/** The tenant a stored task or message belongs to: records written before tenants have none. */
export function tenantOf(owned: { tenant?: string }): string {
  return owned.tenant ?? DEFAULT_TENANT;
}
