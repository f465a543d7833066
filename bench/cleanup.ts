import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { deleteMatching } from '../tests/helpers/redis-keys';
import { allTopics, kafkaNames } from '../services/shared/kafka/names';
import { RedisKeys } from '../services/shared/redis/keys';
import { naiveNames } from './naive/names';
import type { SystemName } from './serve';
import { benchKafka, REDIS_URL } from './stack';

/**
 * Drops what the bench's own queues left behind once their processes have stopped: Spillway's
 * and the naive design's topics (a Spillway queue has 42 partitions across its topics, and the
 * local broker keeps them across runs), BullMQ's jobs, which never expire, and every Redis key
 * of those queues. Best effort: a leftover is untidy, not wrong.
 */
export async function dropQueues(queues: { system: SystemName; queue: string }[]): Promise<void> {
  const topics = queues.flatMap(({ system, queue }) =>
    system === 'spillway' ||
    system === 'spillway-fair' ||
    system === 'spillway-fanout' ||
    system === 'spillway-unindexed'
      ? allTopics(kafkaNames(queue))
      : system === 'naive'
        ? [naiveNames(queue).topic]
        : [],
  );
  if (topics.length > 0) {
    const admin = benchKafka().admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const mine = topics.filter((t) => existing.has(t));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
    } catch (err) {
      console.warn(`bench topics not deleted: ${String(err)}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
  for (const { queue } of queues.filter((q) => q.system === 'bullmq')) {
    const q = new Queue(queue, { connection: { url: REDIS_URL } });
    await q
      .obliterate({ force: true })
      .catch((err: unknown) => console.warn(`BullMQ queue ${queue} not removed: ${String(err)}`))
      .finally(() => q.close());
  }
  // Records, and what obliterate left: a full run would otherwise leave millions of keys (over
  // 1 GB) in the developer's Redis until their TTL, and the test suite shares that Redis.
  const redis = new Redis(REDIS_URL);
  try {
    for (const { system, queue } of queues) {
      const pattern = keyPattern(system, queue);
      if (pattern) await deleteMatching(redis, pattern);
    }
  } catch (err) {
    console.warn(`bench keys not deleted: ${String(err)}`);
  } finally {
    redis.disconnect();
  }
}

/** A queue's Redis keys: Spillway's RedisKeys, naiveNames' status keys, BullMQ's default prefix. */
function keyPattern(system: SystemName, queue: string): string | undefined {
  switch (system) {
    case 'spillway':
    case 'spillway-tenants':
    case 'spillway-fair':
    case 'spillway-fanout':
    case 'spillway-unindexed':
      return `${new RedisKeys(queue).prefix}*`;
    case 'naive':
      return naiveNames(queue).statusKey('*');
    case 'bullmq':
      return `bull:${queue}:*`;
    case 'bare':
      return undefined; // keeps nothing
  }
}
