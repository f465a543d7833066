import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { freePort } from '../helpers/redis-server';
import { request } from '../helpers/http';
import { ServiceProcess } from '../helpers/processes';
import { eventually, KAFKA_BROKERS, REDIS_URL, uniqueQueue } from '../helpers/stack';

/** The compiled API and two workers as separate processes: HTTP → Kafka → worker → Redis → HTTP. */
describe('one task all the way through separate processes', () => {
  const env = { SPILLWAY_QUEUE: uniqueQueue(), KAFKA_BROKERS, REDIS_URL, KAFKA_TASK_PARTITIONS: '4' };
  let api: ServiceProcess;
  let workers: ServiceProcess[];

  beforeAll(async () => {
    api = new ServiceProcess('api', await freePort(), env);
    await api.ready();
    workers = [
      new ServiceProcess('worker', await freePort(), env),
      new ServiceProcess('worker', await freePort(), env),
    ];
    await Promise.all(workers.map((worker) => worker.ready()));
  });
  afterAll(async () => {
    await Promise.all([api, ...workers].map((p) => p?.kill()));
  });

  const settled = (id: string) =>
    eventually(async () => {
      const res = await request(api.url, 'GET', `/v1/tasks/${id}`);
      return ['succeeded', 'failed'].includes(res.body.status) ? res.body : undefined;
    }, 30_000);

  it('runs an echo task to succeeded with the payload as its result', async () => {
    const submitted = await request(api.url, 'POST', '/v1/tasks', {
      json: { type: 'echo', payload: { to: 'you' } },
    });
    expect(submitted.status).toBe(202);
    expect(submitted.body.status).toBe('queued');
    const task = await settled(submitted.body.id);
    expect(task).toMatchObject({ status: 'succeeded', attempts: 1, result: { to: 'you' } });
    expect(Date.parse(task.finishedAt)).toBeGreaterThanOrEqual(Date.parse(task.startedAt));
  });

  it('runs a fail task to failed with the error message', async () => {
    const submitted = await request(api.url, 'POST', '/v1/tasks', {
      json: { type: 'fail', payload: { message: 'nope' } },
    });
    expect(await settled(submitted.body.id)).toMatchObject({ status: 'failed', error: { message: 'nope' } });
  });

  it('answers 404 for an id it never issued', async () => {
    expect((await request(api.url, 'GET', '/v1/tasks/does-not-exist')).status).toBe(404);
  });

  it('shares the work between workers running side by side', async () => {
    const ids = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await request(api.url, 'POST', '/v1/tasks', { json: { type: 'echo', payload: i } });
        return res.body.id as string;
      }),
    );
    const tasks = await Promise.all(ids.map(settled));
    expect(tasks.map((t) => t.result)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const processed = await Promise.all(
      workers.map(async (worker) => {
        const metrics = (await request(worker.url, 'GET', '/metrics')).body as string;
        return Number(
          /spillway_tasks_processed_total\{type="echo",outcome="succeeded",tenant="default"\} (\d+)/.exec(
            metrics,
          )?.[1] ?? 0,
        );
      }),
    );
    expect(processed[0]! + processed[1]!).toBe(41);
    expect(Math.min(...processed)).toBeGreaterThan(0);
  });

  it('on SIGTERM lets the running task finish, then exits cleanly', async () => {
    const submitted = await request(api.url, 'POST', '/v1/tasks', {
      json: { type: 'sleep', payload: { ms: 1500 } },
    });
    await eventually(async () => {
      const res = await request(api.url, 'GET', `/v1/tasks/${submitted.body.id}`);
      return res.body.status === 'running' ? true : undefined;
    });
    const codes = await Promise.all([api, ...workers].map((p) => p.terminate()));
    expect(codes).toEqual([0, 0, 0]);
    const store = new RedisTaskStore({ url: REDIS_URL, queue: env.SPILLWAY_QUEUE, ttlSeconds: 60 });
    try {
      expect(await store.get(submitted.body.id)).toMatchObject({
        status: 'succeeded',
        result: { sleptMs: 1500 },
      });
    } finally {
      await store.close();
    }
  });
});
