import { randomUUID } from 'node:crypto';
import { loadApiConfig } from '../../services/api/config';
import { startApi, type RunningApi } from '../../services/api/main';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import type { TaskMessage } from '../../services/shared/task';
import { encodeTaskMessage } from '../../services/shared/task-message';
import { loadWorkerConfig } from '../../services/worker/config';
import { startWorker, type RunningWorker } from '../../services/worker/main';
import { request } from '../helpers/http';
import { produce } from '../helpers/kafka';
import { freePort, PrivateRedis } from '../helpers/redis-server';
import { eventually, KAFKA_BROKERS, quietLogger, uniqueQueue } from '../helpers/stack';

describe('the API while Redis is down (a private real redis-server, stopped and started)', () => {
  let redis: PrivateRedis;
  let api: RunningApi;
  let url: string;

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    const config = loadApiConfig({
      PORT: '0',
      SPILLWAY_QUEUE: uniqueQueue(),
      KAFKA_BROKERS,
      REDIS_URL: redis.url,
    });
    api = await startApi(config, quietLogger);
    url = `http://127.0.0.1:${api.port}`;
  });
  afterAll(async () => {
    await api.stop();
    await redis.stop();
  });

  it('accepts tasks, answers reads with 503, stays ready (Kafka is what submissions need), and recovers', async () => {
    expect((await request(url, 'GET', '/readyz')).status).toBe(200);

    await redis.stop();
    // Kafka alone decides whether a task is accepted: the task is durable there, and a worker
    // writes its record once Redis is back. Reads, which need Redis, say so with a 503.
    const accepted = await request(url, 'POST', '/v1/tasks', { json: { type: 'echo' } });
    expect(accepted.status).toBe(202);
    const read = await request(url, 'GET', `/v1/tasks/${accepted.body.id}`);
    expect(read.status).toBe(503);
    expect(read.body.error.code).toBe('unavailable');
    expect(read.headers.get('retry-after')).toBe('1');

    // Still in its Service: it takes submissions. /readyz says Redis is down.
    const down = await eventually(async () => {
      const res = await request(url, 'GET', '/readyz');
      return res.body.checks.redis !== 'ok' ? res : undefined;
    }, 10_000);
    expect(down.status).toBe(200);
    expect(down.body.status).toBe('ready');
    expect(down.body.checks.kafka).toBe('ok');
    // Liveness is about the process, not its dependencies: restarting it would not bring Redis back.
    expect((await request(url, 'GET', '/healthz')).status).toBe(200);

    await redis.start();
    await eventually(
      async () => ((await request(url, 'GET', '/readyz')).body.checks.redis === 'ok' ? true : undefined),
      15_000,
    );
  });
});

describe('a worker started before its Redis (a private real redis-server, started later)', () => {
  let redis: PrivateRedis;
  let worker: RunningWorker | undefined;

  afterAll(async () => {
    await worker?.stop();
    await redis.stop();
  });

  it('starts unready instead of exiting, and gets ready and runs tasks once Redis answers', async () => {
    // A fresh install: the worker pod often starts before the Redis pod answers. Exiting would
    // leave it to Kubernetes' restart back-off (10 s, 20 s, 40 s...) to come back.
    redis = new PrivateRedis(await freePort());
    const queue = uniqueQueue();
    const config = loadWorkerConfig({
      PORT: '0',
      SPILLWAY_QUEUE: queue,
      KAFKA_BROKERS,
      REDIS_URL: redis.url,
    });
    worker = await startWorker(config, quietLogger);
    const url = `http://127.0.0.1:${worker.port}`;
    const unready = await request(url, 'GET', '/readyz');
    expect(unready.status).toBe(503);
    expect(unready.body.checks.redis).not.toBe('ok');

    await redis.start();
    await eventually(
      async () => ((await request(url, 'GET', '/readyz')).status === 200 ? true : undefined),
      20_000,
    );
    // And it works: a task produced now runs to its outcome in that Redis.
    const store = new RedisTaskStore({ url: redis.url, queue, ttlSeconds: 60 });
    try {
      const id = randomUUID();
      const task: TaskMessage = { id, type: 'echo', payload: 'hi', enqueuedAt: Date.now(), maxAttempts: 1 };
      await produce(kafkaNames(queue).tasksTopic, [{ key: id, value: encodeTaskMessage(task) }]);
      await eventually(
        async () => ((await store.get(id))?.status === 'succeeded' ? true : undefined),
        20_000,
      );
    } finally {
      await store.close();
    }
  });
});
