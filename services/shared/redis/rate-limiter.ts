import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { RateLimit } from '../tenancy/tenant';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';
import { TOKEN_BUCKET_FUNCTIONS_LUA } from './token-bucket-lua';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in RedisRateLimiter's constructor from TOKEN_BUCKET_LUA. */
    takeTokens(
      key: string,
      perSecond: number,
      burst: number,
      cost: number,
    ): Result<[number, number], Context>;
  }
}

/**
 * A token bucket per subject, refilled at `perSecond` up to `burst`, in one script so concurrent
 * API replicas cannot both spend the same tokens (token-bucket-lua.ts).
 *
 * A cost above the burst (a batch bigger than the bucket) passes only when the bucket is full and
 * leaves it in debt: the average rate holds, and no batch the API accepts is refused forever.
 *
 * KEYS [1] bucket hash   ARGV [1] tokens per second  [2] burst  [3] cost
 * Returns {1, 0} when taken, {0, milliseconds until it would be} when not.
 */
const TOKEN_BUCKET_LUA = `${TOKEN_BUCKET_FUNCTIONS_LUA}
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = nowMs()
local tokens = bucketTokens(KEYS[1], rate, burst, now)
local needed = math.min(cost, burst)
if tokens < needed then
  return {0, math.ceil((needed - tokens) * 1000 / rate)}
end
bucketSave(KEYS[1], rate, burst, tokens - cost, now)
return {1, 0}`;

export interface RateLimitDecision {
  allowed: boolean;
  /** When refused: how long until the same request would pass. */
  retryAfterMs: number;
}

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

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(private readonly options: RedisRateLimiterOptions) {
    this.keys = new RedisKeys(options.queue);
    // Its own connection with a short timeout: a slow Redis must not add seconds to every submission.
    this.redis = connectRedis(options.url, options.commandTimeoutMs ?? 500);
    this.redis.defineCommand('takeTokens', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
  }

  async take(subject: string, cost: number, rate: RateLimit = this.options): Promise<RateLimitDecision> {
    const { perSecond, burst } = rate;
    const [taken, waitMs] = await this.redis.takeTokens(this.keys.rateLimit(subject), perSecond, burst, cost);
    return { allowed: taken === 1, retryAfterMs: waitMs };
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
