import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, prepareTopics } from '../../services/shared/kafka/client';
import { kafkaNames } from '../../services/shared/kafka/names';
import { DEFAULT_LANE_WEIGHTS } from '../../services/shared/lanes/priority';
import { RedisPauseStore } from '../../services/shared/redis/pause-store';
import type { TaskMessage } from '../../services/shared/task';
import { encodeTaskMessage } from '../../services/shared/task-message';
import { loadWorkerConfig } from '../../services/worker/config';
import type { HandlerRegistry } from '../../services/worker/handlers';
import { sharedCapacity } from '../../services/worker/lanes';
import { WorkerMetrics } from '../../services/worker/metrics';
import { PauseGate } from '../../services/worker/pause-gate';
import { createWorker } from '../../services/worker/worker';
import { request } from '../helpers/http';
import { committedTo, produce } from '../helpers/kafka';
import { apiFor, handlersWith, metricValue, workerFor } from '../helpers/services';
import { eventually, KAFKA_BROKERS, quietLogger, REDIS_URL, testKafka, uniqueQueue } from '../helpers/stack';

/**
 * POST /v1/queue/pause and /resume against the real API and worker wiring, Kafka and Redis.
 * The handlers log when each task starts (in this process), so "nothing starts after the pause"
 * is read from the handlers themselves, not from records written later.
 */

/** The promise: no task starts later than this after the pause was answered. */
const PAUSE_WITHIN_MS = 1000;
/** The broker's smallest session timeout (group.min.session.timeout.ms): a pause outlasts it. */
const SESSION_TIMEOUT_MS = 6000;

interface Start {
  id: string;
  type: string;
  at: number;
}

/** Handlers of two types that log their starts and run `ms` milliseconds. */
function loggingHandlers(ms: number): {
  handlers: HandlerRegistry;
  starts: Start[];
  runs: Map<string, number>;
} {
  const starts: Start[] = [];
  const runs = new Map<string, number>();
  const handler = (type: string) => async (_payload: unknown, ctx: { taskId: string }) => {
    starts.push({ id: ctx.taskId, type, at: Date.now() });
    runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
    await sleep(ms);
  };
  return {
    handlers: handlersWith({ 'pause-a': handler('pause-a'), 'pause-b': handler('pause-b') }),
    starts,
    runs,
  };
}

async function submit(url: string, types: string[]): Promise<string[]> {
  const res = await request(url, 'POST', '/v1/tasks/batch', {
    json: { tasks: types.map((type, n) => ({ type, payload: { n } })) },
  });
  expect(res.status).toBe(202);
  return res.body.results.map((r: { id: string }) => r.id);
}

async function statusOf(url: string, id: string): Promise<{ status: string; attempts: number }> {
  return (await request(url, 'GET', `/v1/tasks/${id}`)).body;
}

/** Waits until every task succeeded, each after one attempt. */
async function allSucceeded(url: string, ids: string[], timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => {
      const records = await Promise.all(ids.map((id) => statusOf(url, id)));
      return records.every((r) => r.status === 'succeeded') ? records : undefined;
    },
    timeoutMs,
    `${ids.length} tasks succeeded`,
  );
  for (const id of ids) expect(await statusOf(url, id)).toMatchObject({ status: 'succeeded', attempts: 1 });
}

/** The member id of the worker's normal-lane consumer in its group. */
async function memberOf(group: string): Promise<string[]> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    return groups[0]!.members.map((m) => m.memberId);
  } finally {
    await admin.disconnect();
  }
}

/** An API and a worker on a queue of their own for the tests of one describe block; stopped after it. */
function apiAndWorker(workerEnv: Record<string, string>, handlers: HandlerRegistry) {
  const pair = {
    queue: uniqueQueue(),
    api: undefined as unknown as Awaited<ReturnType<typeof apiFor>>,
    worker: undefined as unknown as Awaited<ReturnType<typeof workerFor>>,
    restartWorker: async () => {
      await pair.worker.stop();
      pair.worker = await workerFor(pair.queue, workerEnv, handlers);
    },
  };
  beforeAll(async () => {
    pair.api = await apiFor(pair.queue);
    pair.worker = await workerFor(pair.queue, workerEnv, handlers);
  });
  afterAll(async () => {
    await pair.worker?.stop();
    await pair.api?.stop();
  });
  return pair;
}

describe('pausing the whole queue', () => {
  const { handlers, starts, runs } = loggingHandlers(400);
  const pair = apiAndWorker(
    { WORKER_CONCURRENCY: '4', KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS) },
    handlers,
  );

  it('stops intake within a second, lets running tasks finish, keeps the group member, and loses nothing on resume', async () => {
    const ids = await submit(
      pair.api.url,
      Array.from({ length: 60 }, () => 'pause-a'),
    );
    await eventually(async () => (starts.length >= 8 ? true : undefined), 30_000, 'tasks running');
    const group = kafkaNames(pair.queue).lanes.find((lane) => lane.name === 'normal')!.group;
    const membersBefore = await memberOf(group);
    expect(membersBefore).toHaveLength(1);

    const paused = await request(pair.api.url, 'POST', '/v1/queue/pause');
    const answeredAt = Date.now();
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, pausedTypes: [], autoscaling: 'unmanaged' });
    const runningAtPause = starts.filter((s) => s.at > answeredAt - 400).map((s) => s.id);

    // Longer than the session timeout: a member that stopped heartbeating would be dropped.
    await sleep(SESSION_TIMEOUT_MS + 3000);
    const late = starts.filter((s) => s.at > answeredAt + PAUSE_WITHIN_MS);
    expect(late).toEqual([]);
    const startedWhilePausing = starts.length;
    expect(startedWhilePausing).toBeLessThan(ids.length);
    // The tasks running when the pause came finished; none was cut short or left running.
    for (const id of runningAtPause) expect((await statusOf(pair.api.url, id)).status).toBe('succeeded');
    expect(await memberOf(group)).toEqual(membersBefore);
    expect((await request(pair.worker.url, 'GET', '/readyz')).status).toBe(200);
    expect(await metricValue(pair.worker.url, 'spillway_worker_paused_scopes{scope="queue"}')).toBe(1);
    expect((await request(pair.api.url, 'GET', '/v1/queue')).body).toMatchObject({ paused: true });

    const resumed = await request(pair.api.url, 'POST', '/v1/queue/resume');
    expect(resumed.body).toMatchObject({ paused: false, pausedAt: null, pausedTypes: [] });
    await allSucceeded(pair.api.url, ids);
    expect(starts.length).toBe(ids.length);
    expect(new Set(runs.values())).toEqual(new Set([1]));
    expect(await memberOf(group)).toEqual(membersBefore);
    expect(await metricValue(pair.worker.url, 'spillway_worker_paused_scopes{scope="queue"}')).toBe(0);
  }, 120_000);
});

describe('pausing one task type', () => {
  const { handlers, starts, runs } = loggingHandlers(50);
  const pair = apiAndWorker({ WORKER_CONCURRENCY: '4' }, handlers);

  it('holds that type while the others run, and runs the held tasks once on resume', async () => {
    const paused = await request(pair.api.url, 'POST', '/v1/queue/pause', { json: { type: 'pause-b' } });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ paused: false, pausedTypes: [{ type: 'pause-b' }] });

    // Interleaved on the same partitions: a held pause-b must not stand in front of pause-a.
    const types = Array.from({ length: 60 }, (_, n) => (n % 2 === 0 ? 'pause-a' : 'pause-b'));
    const ids = await submit(pair.api.url, types);
    const aIds = ids.filter((_, n) => types[n] === 'pause-a');
    const bIds = ids.filter((_, n) => types[n] === 'pause-b');
    await allSucceeded(pair.api.url, aIds);
    expect(starts.filter((s) => s.type === 'pause-b')).toEqual([]);
    // Taken from Kafka and held in the worker, not lost and not started.
    await eventually(
      async () =>
        (await metricValue(pair.worker.url, 'spillway_worker_tasks_held_by_pause')) === bIds.length
          ? true
          : undefined,
      10_000,
      'every pause-b task held',
    );
    for (const id of bIds) expect((await statusOf(pair.api.url, id)).status).toBe('queued');

    // Resuming the queue does not resume a paused type: the scopes are independent.
    expect((await request(pair.api.url, 'POST', '/v1/queue/resume')).body.pausedTypes).toHaveLength(1);
    const resumed = await request(pair.api.url, 'POST', '/v1/queue/resume', { json: { type: 'pause-b' } });
    expect(resumed.body).toMatchObject({ paused: false, pausedTypes: [] });
    await allSucceeded(pair.api.url, bIds);
    expect(new Set(runs.values())).toEqual(new Set([1]));
    expect(runs.size).toBe(ids.length);
    expect(await metricValue(pair.worker.url, 'spillway_worker_tasks_held_by_pause')).toBe(0);
  }, 120_000);

  it('reads the pause state at start: a worker started during a pause runs nothing of it', async () => {
    await request(pair.api.url, 'POST', '/v1/queue/pause', { json: { type: 'pause-b' } });
    const before = starts.length;
    await pair.worker.stop();
    const ids = await submit(pair.api.url, ['pause-b', 'pause-a']);
    await pair.restartWorker();
    await allSucceeded(pair.api.url, [ids[1]!]);
    expect(starts.slice(before).map((s) => s.id)).toEqual([ids[1]]);
    await request(pair.api.url, 'POST', '/v1/queue/resume', { json: { type: 'pause-b' } });
    await allSucceeded(pair.api.url, [ids[0]!]);
  }, 120_000);
});

/**
 * The bound on what a paused type may hold: createWorker against the real broker and the real
 * pause state in Redis, with a hold limit of 2 so the limit is reached with a handful of tasks.
 */
describe('a partition holding its limit of a paused type', () => {
  it('pauses until the type resumes (other types on it wait too), then runs everything and commits', async () => {
    const queue = uniqueQueue();
    const config = loadWorkerConfig({ SPILLWAY_QUEUE: queue, KAFKA_BROKERS, REDIS_URL });
    const names = kafkaNames(queue);
    const client = createKafka(config.kafka, quietLogger);
    await prepareTopics(client, config.kafka, names);
    const store = new RedisPauseStore(REDIS_URL, queue);
    const gate = new PauseGate({
      store: new RedisPauseStore(REDIS_URL, queue),
      events: new WorkerMetrics(),
      logger: quietLogger,
    });
    await store.pause({ type: 'held' });
    await gate.start();
    const ran: string[] = [];
    const worker = createWorker({
      consumer: client.consumer({ groupId: names.workerGroup }),
      lane: { name: 'normal', topic: names.tasksTopic },
      capacity: sharedCapacity(4, DEFAULT_LANE_WEIGHTS),
      commitIntervalMs: 200,
      pauses: gate,
      pauseHoldLimit: 2,
      async run(task, handlerDone) {
        ran.push(task.type);
        handlerDone();
      },
      deadLetterPoison: async () => undefined,
      events: new WorkerMetrics(),
      logger: quietLogger,
      onConsumerLost: () => undefined,
    });
    try {
      const types = ['other', 'held', 'held', 'other', 'other'];
      await produce(
        names.tasksTopic,
        types.map((type) => {
          const task: TaskMessage = {
            id: randomUUID(),
            type,
            payload: null,
            enqueuedAt: Date.now(),
            maxAttempts: 1,
          };
          return { value: encodeTaskMessage(task), key: task.id, partition: 0 };
        }),
      );
      await worker.start();
      // The two `held` fill the limit: the `other` right behind them was taken in the same pass,
      // before they were counted, and runs; the one after that waits with its partition.
      await eventually(async () => (ran.length === 2 ? true : undefined), 30_000, 'the other tasks ran');
      await sleep(2000);
      expect(ran).toEqual(['other', 'other']);
      await store.resume({ type: 'held' });
      await eventually(
        async () => (ran.length === types.length ? true : undefined),
        10_000,
        'every task ran',
      );
      expect(ran.slice(2).sort()).toEqual(['held', 'held', 'other']);
      await committedTo(names.workerGroup, names.tasksTopic, 0, types.length, 15_000);
    } finally {
      await worker.stop(5000);
      await gate.close();
      await store.close();
    }
  });
});
