import Redis from 'ioredis';
import { kafkaNames } from '../../services/shared/kafka/names';
import { isRedisUnavailable } from '../../services/shared/redis/connect';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { freePort, PrivateRedis } from '../helpers/redis-server';
import { handlersWith, workerFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';
import { finished, publishTasks, taskMessage } from '../helpers/tasks';

/**
 * A Redis that answers but refuses writes for now (here out of memory: `maxmemory` with
 * `noeviction`, as the chart will set it): a write it refuses is retried until it is taken, never
 * treated as a failed task (which would run the handler again, and break a key's order).
 */
describe('the worker while Redis refuses writes (OOM)', () => {
  let redis: PrivateRedis;
  let admin: Redis;

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  it('classifies a refusal as Redis being unavailable, not as a bad command', async () => {
    await admin.config('SET', 'maxmemory', '1');
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    try {
      const refusal = await admin.set('k', 'v').catch((err: unknown) => err);
      expect(String(refusal)).toMatch(/^ReplyError: OOM/);
      expect(isRedisUnavailable(refusal)).toBe(true);
      const badCommand = await admin.call('NOSUCHCOMMAND').catch((err: unknown) => err);
      expect(isRedisUnavailable(badCommand)).toBe(false);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
  });

  it('retries the outcome write until Redis takes it, without running the handler again', async () => {
    const queue = uniqueQueue();
    let runs = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const worker = await workerFor(
      queue,
      { REDIS_URL: redis.url },
      handlersWith({
        gated: async () => {
          runs++;
          await gate;
          return 'done';
        },
      }),
    );
    const store = new RedisTaskStore({ url: redis.url, queue, ttlSeconds: 600 });
    try {
      const task = taskMessage('gated', null, { maxAttempts: 3 });
      await publishTasks(kafkaNames(queue).tasksTopic, [task]);
      await eventually(
        async () => ((await store.get(task.id))?.status === 'running' ? true : undefined),
        20_000,
      );
      // Redis fills up while the handler runs: its `succeeded` write is refused.
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      release();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect((await store.get(task.id))?.status).toBe('running');
      await admin.config('SET', 'maxmemory', '0');
      expect(await finished(store, task.id)).toMatchObject({
        status: 'succeeded',
        attempts: 1,
        result: 'done',
      });
      expect(runs).toBe(1);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      await store.close();
      await worker.stop();
    }
  }, 60_000);
});
