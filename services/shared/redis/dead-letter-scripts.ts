import type { Result } from 'ioredis';

/**
 * The Lua of RedisDeadLetterStore. Each script changes an entry only if it is still the exact
 * bytes the store read (an optimistic lock that, unlike WATCH, works on a connection shared by
 * concurrent requests). Changes to the JSON itself are made in JavaScript: cjson would re-encode
 * the payload (empty arrays become objects, numbers lose digits).
 */

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** COMPARE_AND_SET_LUA. */
    deadLetterCompareAndSet(key: string, expectedSha1: string, json: string): Result<number, Context>;
    /** FORGET_IF_EXPIRED_LUA. */
    deadLetterForgetIfExpired(index: string, entry: string, id: string): Result<number, Context>;
    /** DISCARD_LUA. */
    deadLetterDiscard(
      entry: string,
      discarded: string,
      index: string,
      tenantIndex: string,
      expectedSha1: string,
      id: string,
      deadAt: number,
      oldestLiving: number,
    ): Result<number, Context>;
    /** RESTORE_LUA. */
    deadLetterRestore(
      entry: string,
      discarded: string,
      index: string,
      tenantIndex: string,
      json: string,
      ttlMs: number,
      id: string,
      deadAt: number,
    ): Result<'restored' | 'present' | 'discarded', Context>;
  }
}

/** Replaces an entry only if it is still the bytes the caller read. */
export const COMPARE_AND_SET_LUA = `
local current = redis.call('GET', KEYS[1])
if not current or redis.sha1hex(current) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1`;

/** Unindexes an id whose JSON expired, unless a re-add brought it back since it was read. */
export const FORGET_IF_EXPIRED_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('ZREM', KEYS[1], ARGV[1])`;

/**
 * Deletes an entry (if still the bytes read) and its index memberships, and remembers the id
 * among the discarded until it would have expired. KEYS: entry, discarded, the all-letters index,
 * the tenant's index (the all-letters one again for poison). -1: gone; 0: changed, read again.
 */
export const DISCARD_LUA = `
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if redis.sha1hex(current) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
return 1`;

/**
 * Indexes an entry read back from the topic unless Redis has it, or it was discarded: one script,
 * so a discard between the check and the write cannot be undone. KEYS as DISCARD_LUA's.
 */
export const RESTORE_LUA = `
local present = redis.call('EXISTS', KEYS[1]) == 1
if not present then
  if redis.call('ZSCORE', KEYS[2], ARGV[3]) then return 'discarded' end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
if present then return 'present' end
return 'restored'`;
