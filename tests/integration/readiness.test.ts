import { loadApiConfig } from '../../services/api/config';
import { startApi, type RunningApi } from '../../services/api/main';
import { request } from '../helpers/http';
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

  it('accepts tasks, answers reads with 503, turns not ready, and recovers when Redis returns', async () => {
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

    const down = await eventually(async () => {
      const res = await request(url, 'GET', '/readyz');
      return res.status === 503 ? res : undefined;
    }, 10_000);
    expect(down.body.status).toBe('not ready');
    expect(down.body.checks.kafka).toBe('ok');
    expect(down.body.checks.redis).not.toBe('ok');
    // Liveness is about the process, not its dependencies: restarting it would not bring Redis back.
    expect((await request(url, 'GET', '/healthz')).status).toBe(200);

    await redis.start();
    await eventually(
      async () => ((await request(url, 'GET', '/readyz')).status === 200 ? true : undefined),
      15_000,
    );
  });
});
