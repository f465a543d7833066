import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { RedisBatchStore } from '../../services/shared/redis/batch-store';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { seededTaskId } from '../../services/shared/task-ids';
import { batchSeed } from '../../services/shared/batches/batch';
import { request } from '../helpers/http';
import { ServiceProcess } from '../helpers/processes';
import { receiver } from '../helpers/receiver';
import { freePort } from '../helpers/redis-server';
import { apiFor } from '../helpers/services';
import { eventually, KAFKA_BROKERS, REDIS_URL, uniqueQueue } from '../helpers/stack';

const BATCHES = 40;
const CHILDREN = 10;

/**
 * Batch completion across three worker processes, one killed with SIGKILL mid-run: children of one
 * batch finish at the same moment on different processes, children the dead worker held are
 * redelivered, and still every batch completes once, with one callback and one onComplete run.
 */
describe('batches completing across worker processes, one killed with SIGKILL', () => {
  const queue = uniqueQueue();
  const env = {
    SPILLWAY_QUEUE: queue,
    KAFKA_BROKERS,
    REDIS_URL,
    KAFKA_TASK_PARTITIONS: '6',
    WORKER_CONCURRENCY: '8',
    COMMIT_INTERVAL_MS: '500',
    SHUTDOWN_TIMEOUT_MS: '1000',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    TASK_CLAIM_MS: '6000',
    CALLBACK_ALLOW_CIDRS: '127.0.0.0/8',
    CALLBACK_CLAIM_IDLE_MS: '5000',
    HANDLERS_MODULE: join(__dirname, '..', 'fixtures', 'counting-handlers.js'),
    LOG_LEVEL: 'warn',
  };
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  const batches = new RedisBatchStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  const counters = new Redis(REDIS_URL);
  const runsKey = (id: string) => `spillway-test:${queue}:runs:${id}`;
  const processes: ServiceProcess[] = [];
  let api: Awaited<ReturnType<typeof apiFor>> | undefined;
  let hook: Awaited<ReturnType<typeof receiver>> | undefined;
  let passed = false;

  const startWorker = async () => {
    const worker = new ServiceProcess('worker', await freePort(), env);
    processes.push(worker);
    return worker;
  };

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    if (!passed) for (const p of processes) console.log(`worker :${p.port} said:\n${p.output.join('')}`);
    await api?.stop();
    await hook?.close();
    await counters.quit();
    await store.close();
    await batches.close();
  });

  it('completes every batch once: counts, one callback key, one onComplete run', async () => {
    const workers = [await startWorker(), await startWorker(), await startWorker()];
    await Promise.all(workers.map((w) => w.ready()));
    api = await apiFor(queue, { CALLBACK_ALLOW_CIDRS: '127.0.0.0/8' });
    hook = await receiver((res) => res.writeHead(200).end());

    // Half are sealed at once, so they complete while the kill happens; half after it.
    const ids: string[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const created = await request(api.url, 'POST', '/v1/batches', {
        json: {
          callbackUrl: hook.url,
          onComplete: { type: 'counted', payload: { ms: 0 } },
          seal: b % 2 === 0,
          // Equal run times: the last children of a batch end together, on different workers.
          tasks: Array.from({ length: CHILDREN }, () => ({ type: 'counted', payload: { ms: 150 } })),
        },
      });
      expect(created.body).toMatchObject({ accepted: CHILDREN, rejected: 0 });
      ids.push(created.body.batch.id);
    }
    await eventually(async () =>
      (await store.counts()).succeeded >= (BATCHES * CHILDREN) / 4 ? true : undefined,
    );
    await workers[0]!.kill();
    await sleep(500);
    await (await startWorker()).ready(30_000);
    for (const [b, id] of ids.entries()) {
      if (b % 2 === 1) expect((await request(api.url, 'POST', `/v1/batches/${id}/seal`)).status).toBe(200);
    }

    const finished = await eventually(
      async () => {
        const all = await Promise.all(ids.map((id) => batches.get(id)));
        return all.every((b) => b?.finishedAt) ? all : undefined;
      },
      60_000,
      'every batch finished',
    );
    for (const batch of finished) {
      expect(batch).toMatchObject({ total: CHILDREN, succeeded: CHILDREN, failed: 0, cancelled: 0 });
    }
    // One completion each: one onComplete task id, run once (counted by the fixture).
    const onCompleteIds = ids.map((id) => seededTaskId(batchSeed(id), 'on-complete'));
    await eventually(
      async () => {
        const records = await Promise.all(onCompleteIds.map((id) => store.get(id)));
        return records.every((r) => r?.status === 'succeeded') ? true : undefined;
      },
      30_000,
      'every onComplete task succeeded',
    );
    const onCompleteRuns = (await counters.mget(...onCompleteIds.map(runsKey))).map(Number);
    const sealedAfterKill = onCompleteRuns.filter((_, b) => b % 2 === 1);
    expect(sealedAfterKill).toEqual(sealedAfterKill.map(() => 1));
    // Completed before the kill: the dead worker may have been running one of these onComplete
    // tasks (at least once, as any task), but never was one submitted twice under two ids.
    expect(onCompleteRuns.every((n) => n >= 1 && n <= 2)).toBe(true);

    await eventually(
      async () =>
        new Set(hook!.received.map((r) => r.headers['spillway-batch-id'])).size === BATCHES
          ? true
          : undefined,
      30_000,
      'a callback for every batch',
    );
    await sleep(1000);
    const keys = hook.received.map((r) => r.headers['idempotency-key'] as string);
    expect(new Set(keys).size).toBe(BATCHES);
    expect(keys.sort()).toEqual(ids.map((id) => `batch:${id}:completion`).sort());
    // A callback is sent again only if the dead worker was mid-delivery: never twice otherwise.
    expect(hook.received.length).toBeLessThanOrEqual(BATCHES + 8);
    console.log(
      `batch completion: ${BATCHES} batches of ${CHILDREN}, ${hook.received.length} callbacks, ` +
        `onComplete runs ${onCompleteRuns.reduce((a, b) => a + b, 0)}`,
    );
    passed = true;
  }, 150_000);
});
