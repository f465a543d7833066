import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in RedisTenantPermits' constructor from ACQUIRE_LUA. */
    acquireTenantPermit(
      limits: string,
      running: string,
      tenant: string,
      holder: string,
      leaseMs: number,
    ): Result<number, Context>;
    /** Defined from EXTEND_LUA. */
    extendTenantPermit(running: string, holder: string, leaseMs: number): Result<number, Context>;
  }
}

/** Redis' clock in ms: every worker's leases lapse on the same clock, whatever their own say. */
const NOW_LUA = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * A permit to run one of a tenant's tasks, under the tenant's max-running across the whole fleet.
 * KEYS [1] limits hash [2] the tenant's lease set; ARGV [1] tenant [2] holder [3] lease ms.
 * Lapsed leases (their worker died) are dropped first, so a killed worker's permits come back
 * within a lease. Returns 1 granted (or already held), 0 full, 2 no limit (nothing recorded).
 */
const ACQUIRE_LUA = `${NOW_LUA}
local limit = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') or 0
if limit <= 0 then return 2 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) and redis.call('ZCARD', KEYS[2]) >= limit then return 0 end
local lease = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], now + lease, ARGV[2])
-- A set nobody renews goes away by itself.
redis.call('PEXPIRE', KEYS[2], lease * 2)
return 1`;

/** KEYS [1] the tenant's lease set; ARGV [1] holder [2] lease ms. 1 if the lease was still held. */
const EXTEND_LUA = `${NOW_LUA}
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires or tonumber(expires) <= now then return 0 end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1`;

export type PermitAnswer = 'granted' | 'full' | 'unlimited';

export interface TenantPermits {
  /** A permit for `holder` (a task attempt) if its tenant is under its max-running. */
  acquire(tenant: string, holder: string, leaseMs: number): Promise<PermitAnswer>;
  /** Renews a held permit for another `leaseMs`; false when it had lapsed (it may have been given away). */
  extend(tenant: string, holder: string, leaseMs: number): Promise<boolean>;
  release(tenant: string, holder: string): Promise<void>;
  /** Every tenant's max-running (those without one are absent). */
  limits(): Promise<Map<string, number>>;
}

export interface RedisTenantPermitsOptions {
  url: string;
  queue: string;
  /** A check waits no longer for Redis than this (default 1000 ms); the caller then fails open. */
  commandTimeoutMs?: number;
}

/** Tenants' fleet-wide running limits and the leases held under them, in Redis. */
export class RedisTenantPermits implements TenantPermits {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(options: RedisTenantPermitsOptions) {
    this.keys = new RedisKeys(options.queue);
    this.redis = connectRedis(options.url, options.commandTimeoutMs ?? 1000);
    this.redis.defineCommand('acquireTenantPermit', { numberOfKeys: 2, lua: ACQUIRE_LUA });
    this.redis.defineCommand('extendTenantPermit', { numberOfKeys: 1, lua: EXTEND_LUA });
  }

  async acquire(tenant: string, holder: string, leaseMs: number): Promise<PermitAnswer> {
    const answer = await this.redis.acquireTenantPermit(
      this.keys.tenantMaxRunning(),
      this.keys.tenantRunning(tenant),
      tenant,
      holder,
      leaseMs,
    );
    return answer === 1 ? 'granted' : answer === 2 ? 'unlimited' : 'full';
  }

  async extend(tenant: string, holder: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.extendTenantPermit(this.keys.tenantRunning(tenant), holder, leaseMs)) === 1;
  }

  async release(tenant: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.tenantRunning(tenant), holder);
  }

  async limits(): Promise<Map<string, number>> {
    const hash = await this.redis.hgetall(this.keys.tenantMaxRunning());
    return new Map(Object.entries(hash).map(([tenant, n]) => [tenant, Number(n)]));
  }

  /** Leases of `tenant` not lapsed now: how many of its tasks run across the fleet. */
  async running(tenant: string): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    return this.redis.zcount(this.keys.tenantRunning(tenant), `(${now}`, '+inf');
  }

  /**
   * Replaces every tenant's max-running (0 or absent: no limit). The API writes them from its
   * keys file, so workers need neither the file nor a restart to follow a change.
   */
  async setLimits(limits: ReadonlyMap<string, number>): Promise<void> {
    const key = this.keys.tenantMaxRunning();
    const entries = [...limits].filter(([, n]) => n > 0).flatMap(([tenant, n]) => [tenant, String(n)]);
    const transaction = this.redis.multi().del(key);
    if (entries.length > 0) transaction.hset(key, ...entries);
    const results = await transaction.exec();
    const failed = results?.find(([err]) => err)?.[0];
    if (!results || failed) throw failed ?? new Error('tenant limits not written: transaction aborted');
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
