import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { RateLimit } from '../tenancy/tenant';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined by RedisTokenBuckets from GRANT_LUA. */
    grantTokens(
      key: string,
      perSecond: number,
      burst: number,
      need: number,
      want: number,
    ): Result<[number, number], Context>;
  }
}

/**
 * A token bucket in a Redis hash (`tokens`, `at`), refilled at `perSecond` up to `burst`, spent by
 * one script so concurrent API replicas never spend the same tokens. The clock is Redis's (TIME),
 * so replicas whose clocks disagree still share one refill rate. Full when new; gone once it
 * would be full again, so idle subjects cost no memory.
 *
 * A call asks for at least `need` tokens and at most `want` (the rest is a lease the caller holds:
 * token-leases.ts). It is granted `need` plus what else the bucket has, up to `want`, or nothing.
 * A `need` above the burst (a batch bigger than the bucket) is granted only from a full bucket and
 * leaves it in debt: the average rate holds, and no batch the API accepts is refused forever. A
 * `need` of 0 is granted whatever whole tokens there are, refused only when there is not one.
 *
 * KEYS [1] bucket   ARGV [1] tokens per second  [2] burst  [3] need  [4] want
 * Returns {tokens granted, 0}, or {0, milliseconds until `need` (at least one) would be granted}.
 */
const GRANT_LUA = `
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local need, want = tonumber(ARGV[3]), tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil or at == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local needed = math.max(1, math.min(need, burst))
if tokens < needed then
  return {0, math.ceil((needed - tokens) * 1000 / rate)}
end
local granted = math.max(need, math.min(want, math.floor(tokens)))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {granted, 0}`;

export interface BucketGrant {
  /** Tokens granted: 0 when refused. */
  granted: number;
  /** When refused: how long until the same `need` would be granted. */
  retryAfterMs: number;
}

/** Where tokens come from: RedisTokenBuckets, or a test's fake. */
export interface TokenSource {
  grant(key: string, rate: RateLimit, need: number, want: number): Promise<BucketGrant>;
}

/** The buckets' script on a connection its owner opened (and closes). */
export class RedisTokenBuckets implements TokenSource {
  constructor(private readonly redis: Redis) {
    redis.defineCommand('grantTokens', { numberOfKeys: 1, lua: GRANT_LUA });
  }

  async grant(key: string, rate: RateLimit, need: number, want: number): Promise<BucketGrant> {
    const [granted, waitMs] = await this.redis.grantTokens(key, rate.perSecond, rate.burst, need, want);
    return { granted, retryAfterMs: waitMs };
  }
}
