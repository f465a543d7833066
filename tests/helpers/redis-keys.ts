import type Redis from 'ioredis';

/**
 * Deletes every key matching `pattern`, with SCAN and UNLINK. Not KEYS: it walks the whole
 * database in one blocking call, and on a developer's Redis still holding a bench run's millions
 * of keys that stalls every other client for seconds (past their 2 s command timeouts).
 */
export async function deleteMatching(redis: Redis, pattern: string): Promise<number> {
  let deleted = 0;
  for await (const keys of redis.scanStream({ match: pattern, count: 1000 }) as AsyncIterable<string[]>) {
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  }
  return deleted;
}
