import type Redis from 'ioredis';

/** HSET on an existing hash only: a stray write must not create a record without its other fields. */
const HSET_IF_PRESENT_LUA =
  "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end";

export async function hsetIfPresent(redis: Redis, key: string, field: string, value: string): Promise<void> {
  await redis.eval(HSET_IF_PRESENT_LUA, 1, key, field, value);
}
