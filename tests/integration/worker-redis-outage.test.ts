import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import {
  TERMINAL_STATUSES,
  type TaskMessage,
  type TaskRecord,
  type TaskStatus,
} from '../../services/shared/task';
import { request } from '../helpers/http';
import { freePort, PrivateRedis } from '../helpers/redis-server';
import { metricValue, workerFor } from '../helpers/services';
import { committedToEnd } from '../helpers/kafka';
import { eventually, uniqueQueue } from '../helpers/stack';
import { publishTasks, taskMessage } from '../helpers/tasks';

const SLEEPS = 100;
const FLAKY = 10;
/** Sleep tasks running from before the stop until into the outage: in flight when Redis goes. */
const LONG = 2;
const LONG_MS = 4000;
const TASKS = LONG + SLEEPS + FLAKY;
/** Redis goes away once this many tasks succeeded: mid-run, with most still to do. */
const STOP_AFTER_SUCCEEDED = 20;
const OUTAGE_MS = 5000;

interface Observed {
  attempts: number;
  /** `gone`: the record vanished while Redis answered (lost), which ranks below anything. */
  status: TaskStatus | 'gone';
}

/** Order of the statuses a worker moves a task through within one attempt. */
const RANK: Partial<Record<Observed['status'], number>> = {
  queued: 1,
  running: 2,
  retrying: 3,
  succeeded: 4,
  failed: 4,
};

/** True when `b` is at or after `a`: by attempt first, then by status within the attempt. */
function notBefore(a: Observed, b: Observed): boolean {
  if (b.attempts !== a.attempts) return b.attempts > a.attempts;
  return (RANK[b.status] ?? 0) >= (RANK[a.status] ?? 0);
}

/** Reads every task's record over and over, keeping each change; reads that fail (Redis down) are skipped. */
function sampleRecords(store: RedisTaskStore, ids: string[], intervalMs: number) {
  const seen = new Map<string, Observed[]>(ids.map((id) => [id, []]));
  let running = true;
  const loop = (async () => {
    while (running) {
      const records = await Promise.all(ids.map((id) => store.get(id))).catch(() => undefined);
      records?.forEach((record, i) => {
        const history = seen.get(ids[i]!)!;
        const last = history.at(-1);
        const now: Observed = record
          ? { attempts: record.attempts, status: record.status }
          : { attempts: -1, status: 'gone' };
        if (!record && !last) return; // not written yet
        if (last?.attempts !== now.attempts || last.status !== now.status) history.push(now);
      });
      await sleep(intervalMs);
    }
  })();
  return {
    async stop(): Promise<Map<string, Observed[]>> {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** Asks /healthz and /readyz over and over, keeping every answer with its time. */
function sampleProbes(url: string, intervalMs: number) {
  const answers: { at: number; health: number; ready: number; redis: unknown }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      const [health, ready] = await Promise.all([
        request(url, 'GET', '/healthz').catch(() => undefined),
        request(url, 'GET', '/readyz').catch(() => undefined),
      ]);
      answers.push({
        at,
        health: health?.status ?? 0,
        ready: ready?.status ?? 0,
        redis: ready?.body?.checks?.redis,
      });
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return answers;
    },
  };
}

/**
 * Redis (a private redis-server with an append-only file) stopped for a few seconds and started
 * again on the same port while an in-process worker runs tasks; the worker is never restarted.
 */
describe('the worker while Redis is stopped and started again', () => {
  const queue = uniqueQueue();
  const names = kafkaNames(queue);
  const unexpected: unknown[] = [];
  const onUnexpected = (err: unknown) => unexpected.push(err);
  let redis: PrivateRedis;
  let store: RedisTaskStore;
  let sampler: RedisTaskStore;
  let worker: Awaited<ReturnType<typeof workerFor>> | undefined;
  /** Set while the test has Redis stopped, so cleanup can bring it back for the worker's drain. */
  let redisDown = false;
  /** The sampling loops: a test that fails half-way must not leave them polling for ever. */
  const samplers: { stop(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    // In a worker process either of these would end it: here they are recorded and asserted on.
    process.on('unhandledRejection', onUnexpected);
    process.on('uncaughtException', onUnexpected);
    // AOF: every status written before the stop is still there after the start, so the records
    // can be checked whole, not only what the worker writes after the outage.
    redis = new PrivateRedis(await freePort(), { appendOnly: true });
    await redis.start();
    store = new RedisTaskStore({ url: redis.url, queue, ttlSeconds: 3600 });
    sampler = new RedisTaskStore({ url: redis.url, queue, ttlSeconds: 3600 });
    worker = await workerFor(queue, {
      REDIS_URL: redis.url,
      // Few slots, so the run lasts long enough for the outage to fall in its middle.
      WORKER_CONCURRENCY: '4',
      RETRY_BASE_DELAY_MS: '100',
      COMMIT_INTERVAL_MS: '200',
      SHUTDOWN_TIMEOUT_MS: '2000',
    });
  });
  afterAll(async () => {
    await Promise.all(samplers.map((s) => s.stop()));
    if (redisDown) await redis.start();
    await worker?.stop();
    await Promise.all([store?.close(), sampler?.close()]);
    await redis?.stop();
    process.off('unhandledRejection', onUnexpected);
    process.off('uncaughtException', onUnexpected);
  });

  it('holds its tasks while Redis is away, then finishes every one; no status lost or undone', async () => {
    const url = worker!.url;
    const sleeps = Array.from({ length: SLEEPS }, (_, i) =>
      taskMessage('sleep', { ms: 20 + ((i * 7) % 31) }),
    );
    const flaky = Array.from({ length: FLAKY }, () =>
      taskMessage('flaky', { failTimes: 1 }, { maxAttempts: 3 }),
    );
    const long = Array.from({ length: LONG }, () => taskMessage('sleep', { ms: LONG_MS }));
    // Flaky tasks spread through the run, so some fail, retry or succeed around the outage.
    const rest: TaskMessage[] = sleeps.flatMap((task, i) =>
      i % 10 === 5 ? [task, flaky[(i - 5) / 10]!] : [task],
    );
    const tasks = [...long, ...rest];
    const ids = tasks.map((t) => t.id);
    // As the API does: a queued record exists before a worker sees the task.
    await store.transitionMany(
      tasks.map((t) => ({
        id: t.id,
        type: t.type,
        createdAt: new Date(t.enqueuedAt),
        status: 'queued' as const,
        attempt: 0,
        at: new Date(t.enqueuedAt),
      })),
    );
    const records = sampleRecords(sampler, ids, 25);
    const probes = sampleProbes(url, 100);
    samplers.push(records, probes);

    const started = Date.now();
    // The long tasks first, and running before the rest arrives: they are sure to be mid-run
    // when Redis stops, whatever the machine's speed.
    await publishTasks(names.tasksTopic, long);
    await eventually(
      async () =>
        (await Promise.all(long.map((t) => store.get(t.id)))).every((r) => r?.status === 'running')
          ? true
          : undefined,
      20_000,
      'the long tasks running',
    );
    await publishTasks(names.tasksTopic, rest);
    // Polled tightly (eventually's 100 ms is several tasks): Redis must go while most remain.
    while ((await store.counts()).succeeded < STOP_AFTER_SUCCEEDED) {
      if (Date.now() - started > 30_000)
        throw new Error(`${STOP_AFTER_SUCCEEDED} tasks not succeeded in 30 s`);
      await sleep(10);
    }
    redisDown = true;
    await redis.stop();
    const stoppedAt = Date.now();
    const inFlight = await metricValue(url, 'spillway_tasks_in_flight');
    await sleep(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()));
    // The long tasks' handlers finished during the outage; their `succeeded` waits for Redis
    // (they are counted in flight until it is written).
    const inFlightLate = await metricValue(url, 'spillway_tasks_in_flight');
    expect(inFlightLate).toBeGreaterThanOrEqual(LONG);
    await redis.start();
    redisDown = false;
    const restartedAt = Date.now();

    const readAll = () => Promise.all(ids.map((id) => store.get(id)));
    // On a timeout the assertion below names the tasks that did not get there.
    await eventually(
      async () => ((await readAll()).every((r) => r && TERMINAL_STATUSES.has(r.status)) ? true : undefined),
      30_000,
      `all ${TASKS} tasks finished`,
    ).catch(() => undefined);
    const finishedAt = Date.now();
    const maybeFinal = await readAll();
    const notSucceeded = ids
      .map((id, i) => `${id} (${tasks[i]!.type}): ${maybeFinal[i]?.status ?? 'no record'}`)
      .filter((_, i) => maybeFinal[i]?.status !== 'succeeded');
    expect(notSucceeded).toEqual([]);
    const final = maybeFinal as TaskRecord[];
    expect(await store.counts()).toMatchObject({ succeeded: TASKS, failed: 0, running: 0, retrying: 0 });
    // One attempt per sleep task, two per flaky one (its first fails): none ran an extra attempt.
    const flakyIds = new Set(flaky.map((t) => t.id));
    expect(final.filter((r) => r.attempts !== (flakyIds.has(r.id) ? 2 : 1)).map((r) => r.id)).toEqual([]);

    // Readiness said so while Redis was away, and came back without a restart.
    await eventually(
      async () => ((await request(url, 'GET', '/readyz')).status === 200 ? true : undefined),
      15_000,
    );
    const answers = await probes.stop();
    const duringOutage = answers.filter((a) => a.at >= stoppedAt && a.at < restartedAt);
    expect(duringOutage.some((a) => a.ready === 503 && a.redis !== 'ok')).toBe(true);
    expect(answers.at(-1)).toMatchObject({ ready: 200, redis: 'ok' });
    // The process stayed up throughout: every liveness probe answered.
    expect(answers.filter((a) => a.health !== 200)).toEqual([]);
    const ready = await request(url, 'GET', '/readyz');
    expect(ready.body).toEqual({ status: 'ready', checks: { redis: 'ok', kafka: 'ok' } });
    expect(unexpected).toEqual([]);

    // Statuses only moved forward, outage or not (the AOF kept what was written before it).
    const seen = await records.stop();
    const backwards = [...seen].filter(([, history]) =>
      history.some((h, i) => i > 0 && !notBefore(history[i - 1]!, h)),
    );
    expect(backwards).toEqual([]);

    const end = await committedToEnd(names.workerGroup, names.tasksTopic);

    const changes = [...seen.values()].reduce((sum, h) => sum + h.length, 0);
    const committed = Object.values(end).reduce((sum, offset) => sum + Number(offset), 0);
    const notReady = duringOutage.filter((a) => a.ready === 503).length;
    console.log(
      `redis outage: ${TASKS} tasks (${FLAKY} flaky, ${LONG} of ${LONG_MS} ms), ` +
        `${inFlight} in flight as Redis stopped (${inFlightLate} at its end), ${committed} messages committed, ` +
        `${changes} status changes sampled, ${notReady}/${duringOutage.length} readyz 503 during the outage, ` +
        `all succeeded ${((finishedAt - restartedAt) / 1000).toFixed(1)} s after the restart, ` +
        `${((finishedAt - started) / 1000).toFixed(1)} s in all`,
    );
  });
});
