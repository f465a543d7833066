import { Redis } from 'ioredis';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisKeys } from '../../services/shared/redis/keys';
import type { Child } from '../child';
import { REDIS_URL, waitFor } from '../stack';

/** Ids per pipeline when reading many task records at once. */
const CHUNK = 1000;

/**
 * What a scenario reads of one Spillway queue's state, straight from Redis through Spillway's own
 * key names: cheaper than asking the API while it is under load, and it counts even if the API
 * is gone.
 */
export class SpillwayState {
  private readonly keys: RedisKeys;
  private readonly redis = new Redis(REDIS_URL, { lazyConnect: true });
  readonly workerGroup: string;

  constructor(readonly queue: string) {
    this.keys = new RedisKeys(queue);
    this.workerGroup = kafkaNames(queue).workerGroup;
  }

  /** Tasks per status (the counts hash the transition script keeps). */
  async counts(): Promise<Record<string, number>> {
    const hash = await this.redis.hgetall(this.keys.counts());
    return Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)]));
  }

  /** The given fields of every task record, in the order of `ids` (null where absent). */
  async records(ids: string[], fields: string[]): Promise<(string | null)[][]> {
    const out: (string | null)[][] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const pipeline = this.redis.pipeline();
      for (const id of ids.slice(i, i + CHUNK)) pipeline.hmget(this.keys.task(id), ...fields);
      for (const [err, values] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        out.push(values as (string | null)[]);
      }
    }
    return out;
  }

  /** A batch's record as stored (counts, and createdAt/finishedAt in ms), and its children's ids. */
  async batch(id: string): Promise<{ record: Record<string, string>; children: string[] }> {
    const [record, children] = await Promise.all([
      this.redis.hgetall(this.keys.batch(id)),
      this.redis.smembers(this.keys.batchMembers(id)),
    ]);
    return { record, children };
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** A Spillway worker is ready once its probe says it is in its consumer group. */
export async function spillwayWorkerReady(worker: Child): Promise<void> {
  await waitFor(
    async () => ((await fetch(`${worker.url}/readyz`)).ok ? true : undefined),
    60_000,
    'worker ready',
  );
}
