import type Redis from 'ioredis';
import type { RateLimit } from '../tenancy/tenant';
import { TokenLeases, type TakeDecision } from '../token-leases';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';
import { RedisTokenBuckets } from './token-buckets';

export type RateLimitDecision = TakeDecision;

/** Decides whether a subject may spend `cost` tokens now. RedisRateLimiter is the real one. */
export interface RateLimiter {
  /** `rate`: the subject's own bucket size and refill (a tenant's); absent, the limiter's default. */
  take(subject: string, cost: number, rate?: RateLimit): Promise<RateLimitDecision>;
}

export interface RedisRateLimiterOptions extends RateLimit {
  url: string;
  queue: string;
  /** A check waits no longer for Redis than this (default 500 ms); the caller then fails open. */
  commandTimeoutMs?: number;
}

/**
 * Token buckets per subject (a tenant, or a client address when auth is off), refilled at
 * `perSecond` up to `burst`, kept in Redis so every API replica spends the same ones
 * (token-buckets.ts), and spent through this process's leases (token-leases.ts) so a busy tenant's
 * requests do not each wait for Redis.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly leases: TokenLeases;

  constructor(private readonly options: RedisRateLimiterOptions) {
    this.keys = new RedisKeys(options.queue);
    // Its own connection with a short timeout: a slow Redis must not add seconds to every submission.
    this.redis = connectRedis(options.url, options.commandTimeoutMs ?? 500);
    this.leases = new TokenLeases(new RedisTokenBuckets(this.redis));
  }

  take(subject: string, cost: number, rate: RateLimit = this.options): Promise<RateLimitDecision> {
    return this.leases.take(this.keys.rateLimit(subject), rate, cost);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
