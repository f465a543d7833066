import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';
import type { JsonValue } from '../task';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in IdempotencyStore's constructor from BEGIN_LUA. */
    idempotencyBegin(
      key: string,
      fingerprint: string,
      seed: string,
      owner: string,
      leaseMs: number,
      ttlSeconds: number,
    ): Result<string[], Context>;
    /** Defined in IdempotencyStore's constructor from RELEASE_LUA. */
    idempotencyRelease(key: string, owner: string, keepSeed: number): Result<number, Context>;
  }
}

/**
 * One Idempotency-Key is a hash: the request's fingerprint, the seed its task ids are derived
 * from, and either the reply (done) or the request holding it (owner, until leaseUntil). The
 * seed outlives a failed or dead holder whose tasks may have reached Kafka: the next request
 * with the key gets the same seed, so it publishes the same task ids again instead of new tasks,
 * and the workers run each id once.
 *
 * The clock is Redis's (TIME), so API replicas whose clocks disagree agree on leases.
 *
 * KEYS [1] the key's hash
 * ARGV [1] fingerprint  [2] a fresh seed  [3] owner token  [4] lease ms  [5] ttl seconds
 * Returns {'new', seed} | {'pending'} | {'mismatch'} | {'done', status, body}.
 */
const BEGIN_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local leaseUntil = tostring(now + tonumber(ARGV[4]))
local stored = redis.call('HMGET', KEYS[1], 'fingerprint', 'seed', 'leaseUntil', 'status', 'body')
if not stored[1] then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'seed', ARGV[2], 'owner', ARGV[3], 'leaseUntil', leaseUntil)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
  return {'new', ARGV[2]}
end
if stored[1] ~= ARGV[1] then return {'mismatch'} end
if stored[4] then return {'done', stored[4], stored[5]} end
if tonumber(stored[3]) > now then return {'pending'} end
-- The holder gave up or died: what it published is unknown, so the seed is kept from now on.
redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'leaseUntil', leaseUntil, 'keepSeed', '1')
return {'new', stored[2]}
`;

/**
 * Ends a holder's claim without a reply. If its tasks may have reached Kafka (ARGV[2] = 1, or an
 * earlier holder's may have), the seed stays for the next request; otherwise the key is
 * forgotten, so a corrected request may use it. Only the owner's own claim is touched.
 *
 * KEYS [1] the key's hash   ARGV [1] owner token  [2] 1 to keep the seed
 * Returns 1 when released, 0 when the claim was not this owner's.
 */
const RELEASE_LUA = `
local stored = redis.call('HMGET', KEYS[1], 'owner', 'status', 'keepSeed')
if stored[1] ~= ARGV[1] or stored[2] then return 0 end
if ARGV[2] == '1' or stored[3] then
  redis.call('HSET', KEYS[1], 'leaseUntil', '0', 'keepSeed', '1')
  redis.call('HDEL', KEYS[1], 'owner')
else
  redis.call('DEL', KEYS[1])
end
return 1
`;

/** What a request with an Idempotency-Key finds when it begins. */
export type IdempotencyBegin =
  /** This request holds the key now; its task ids derive from `seed`. */
  | { state: 'new'; seed: string }
  /** Another request with this key is still running. */
  | { state: 'pending' }
  /** This key was used with a different request. */
  | { state: 'mismatch' }
  | { state: 'done'; status: number; body: JsonValue };

/** One request's hold on a key: `owner` names it in Redis, so only it can release its claim. */
export interface IdempotencyClaim {
  scope: string;
  clientKey: string;
  fingerprint: string;
  owner: string;
}

/** How often a release that could not reach Redis is tried again. */
const RELEASE_RETRY_MS = 1000;

/**
 * Remembers the response to each Idempotency-Key. A key is claimed atomically before the work
 * runs, so two concurrent requests with one key cannot both create tasks; see BEGIN_LUA for why
 * a claim carries a seed.
 */
export class IdempotencyStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(
    url: string,
    queue: string,
    private readonly ttlSeconds: number,
    /**
     * How long a claim holds off other requests with its key. A holder that outlives it is not
     * harmful (a request taking over publishes the same task ids), only a dead one is waited for.
     */
    private readonly leaseMs: number,
  ) {
    this.redis = connectRedis(url);
    this.keys = new RedisKeys(queue);
    this.redis.defineCommand('idempotencyBegin', { numberOfKeys: 1, lua: BEGIN_LUA });
    this.redis.defineCommand('idempotencyRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  }

  /** A claim to pass to begin(); made first, so it can be released even if begin()'s answer is lost. */
  claim(scope: string, clientKey: string, fingerprint: string): IdempotencyClaim {
    return { scope, clientKey, fingerprint, owner: randomUUID() };
  }

  async begin(claim: IdempotencyClaim): Promise<IdempotencyBegin> {
    const reply = await this.redis.idempotencyBegin(
      this.keyOf(claim),
      claim.fingerprint,
      randomUUID(),
      claim.owner,
      this.leaseMs,
      this.ttlSeconds,
    );
    switch (reply[0]) {
      case 'new':
        return { state: 'new', seed: reply[1]! };
      case 'done':
        return { state: 'done', status: Number(reply[1]), body: JSON.parse(reply[2]!) as JsonValue };
      case 'pending':
      case 'mismatch':
        return { state: reply[0] };
      default:
        throw new Error(`unexpected idempotency state ${String(reply[0])}`);
    }
  }

  /** Remembers the reply for the key's lifetime (IDEMPOTENCY_TTL_SECONDS from now). */
  async complete(claim: IdempotencyClaim, seed: string, status: number, body: JsonValue): Promise<void> {
    const key = this.keyOf(claim);
    await this.redis
      .multi()
      .hset(key, {
        fingerprint: claim.fingerprint,
        seed,
        status: String(status),
        body: JSON.stringify(body),
      })
      .hdel(key, 'owner', 'leaseUntil', 'keepSeed')
      .expire(key, this.ttlSeconds)
      .exec();
  }

  /**
   * Ends a claim whose request gave no reply. `keepSeed`: its tasks may have reached Kafka, so
   * a retry must publish the same ids.
   */
  async release(claim: IdempotencyClaim, keepSeed: boolean): Promise<void> {
    await this.redis.idempotencyRelease(this.keyOf(claim), claim.owner, keepSeed ? 1 : 0);
  }

  /**
   * Releases a claim whose begin() failed: Redis may have applied it and lost only the answer
   * (a command timeout), and nothing else would end it before its lease. Tried until Redis
   * answers or the lease has passed anyway.
   */
  releaseEventually(claim: IdempotencyClaim): void {
    const giveUpAt = Date.now() + this.leaseMs;
    const attempt = (): void => {
      this.release(claim, false).catch(() => {
        if (Date.now() + RELEASE_RETRY_MS < giveUpAt) setTimeout(attempt, RELEASE_RETRY_MS).unref();
      });
    };
    attempt();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private keyOf(claim: IdempotencyClaim): string {
    return this.keys.idempotency(claim.scope, claim.clientKey);
  }
}
