import { loadApiConfig } from '../../services/api/config';
import { startApi, type RunningApi } from '../../services/api/main';
import { request } from '../helpers/http';
import { freePort, PrivateRedis } from '../helpers/redis-server';
import { eventually, KAFKA_BROKERS, quietLogger, uniqueQueue } from '../helpers/stack';

describe('API readiness follows Redis (a private real redis-server, stopped and started)', () => {
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

  it('is ready, turns not ready when Redis stops, and ready again when it returns', async () => {
    expect((await request(url, 'GET', '/readyz')).status).toBe(200);

    await redis.stop();
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
