import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { verifySignature } from '../../services/worker/callbacks';
import { NonRetriableError } from '../../services/worker/handlers';
import { readTopic, writeRaw } from '../helpers/kafka';
import { handlersWith, metricValue, workerFor } from '../helpers/services';
import { eventually, REDIS_URL, testKafka, uniqueQueue } from '../helpers/stack';
import { finished, publishTasks, taskMessage } from '../helpers/tasks';

const stores = (queue: string) => ({
  store: new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 }),
  deadLetters: new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 3600 }),
});

describe('parallelism on one partition', () => {
  const queue = uniqueQueue();
  const { store } = stores(queue);
  afterAll(() => store.close());

  it('runs 1,000 sleep tasks of 50 ms with concurrency 50 far faster than one at a time, and commits them all', async () => {
    const worker = await workerFor(queue, {
      KAFKA_TASK_PARTITIONS: '1',
      WORKER_CONCURRENCY: '50',
      COMMIT_INTERVAL_MS: '200',
    });
    try {
      const tasks = Array.from({ length: 1000 }, () => taskMessage('sleep', { ms: 50 }));
      const started = Date.now();
      await publishTasks(kafkaNames(queue).tasksTopic, tasks);
      await eventually(async () => ((await store.counts()).succeeded === 1000 ? true : undefined), 30_000);
      const seconds = (Date.now() - started) / 1000;
      // Sequentially this is 50 s; the bound proves parallelism, not speed (see the benchmarks).
      expect(seconds).toBeLessThan(10);
      const admin = testKafka().admin();
      await admin.connect();
      const committed = await eventually(async () => {
        const [offsets] = await admin.fetchOffsets({
          groupId: kafkaNames(queue).workerGroup,
          topics: [kafkaNames(queue).tasksTopic],
        });
        return offsets?.partitions[0]?.offset === '1000' ? offsets : undefined;
      }, 10_000);
      expect(committed.partitions).toEqual([{ partition: 0, offset: '1000', metadata: null }]);
      await admin.disconnect();
    } finally {
      await worker.stop();
    }
  });
});

describe('the worker runtime', () => {
  const queue = uniqueQueue();
  const topic = kafkaNames(queue).tasksTopic;
  const { store, deadLetters } = stores(queue);
  const order: number[] = [];
  let worker: Awaited<ReturnType<typeof workerFor>>;

  beforeAll(async () => {
    const handlers = handlersWith({
      ordered: async (payload) => {
        await sleep(Math.random() * 20);
        order.push(Number(payload));
        return null;
      },
      refuse: async () => {
        throw new NonRetriableError('this input can never work');
      },
      stubborn: async () => {
        await sleep(60_000); // ignores its signal on purpose
        return 'too late';
      },
      reporting: async (_payload, ctx) => {
        await ctx.progress({ done: 1, of: 2 });
        await sleep(1500, undefined, { signal: ctx.signal });
        return 'reported';
      },
    });
    worker = await workerFor(
      queue,
      { WORKER_CONCURRENCY: '8', RETRY_BASE_DELAY_MS: '100', COMMIT_INTERVAL_MS: '200' },
      handlers,
    );
  });
  afterAll(async () => {
    await worker.stop();
    await Promise.all([store.close(), deadLetters.close()]);
  });

  it('keeps tasks that share a key in order while others run beside them', async () => {
    const keyed = Array.from({ length: 15 }, (_, i) => taskMessage('ordered', i, { key: 'customer-7' }));
    const others = Array.from({ length: 10 }, () => taskMessage('sleep', { ms: 30 }));
    await publishTasks(
      topic,
      [...keyed, ...others].sort(() => 0).flatMap((t, i, all) => (i < 15 ? [t] : [all[i]!])),
    );
    await Promise.all([...keyed, ...others].map((t) => finished(store, t.id)));
    expect(order).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });

  it('retries a flaky task until it succeeds, recording each failed attempt', async () => {
    const task = taskMessage('flaky', { failTimes: 2 }, { maxAttempts: 3 });
    await publishTasks(topic, [task]);
    const record = await finished(store, task.id);
    expect(record).toMatchObject({ status: 'succeeded', attempts: 3, result: { succeededOnAttempt: 3 } });
    expect(record.history?.map((h) => h.attempt)).toEqual([1, 2]);
    expect(record.history?.[0]?.error.message).toContain('attempt 1');
    // The top-level error is the outcome's: a success has none (the failures are in history).
    expect(record.error).toBeUndefined();
  });

  it('dead-letters a task whose attempts run out, with its history, and marks it failed', async () => {
    const task = taskMessage('fail', { message: 'still broken' }, { maxAttempts: 2 });
    await publishTasks(topic, [task]);
    const record = await finished(store, task.id);
    expect(record).toMatchObject({ status: 'failed', attempts: 2, error: { message: 'still broken' } });
    const entry = await eventually(() => deadLetters.get(task.id));
    expect(entry).toMatchObject({ reason: 'attempts-exhausted', task: { id: task.id, type: 'fail' } });
    expect(entry.history.map((h) => h.attempt)).toEqual([1, 2]);
    const onTopic = await readTopic(kafkaNames(queue).deadLetterTopic, 1);
    expect(onTopic.map((m) => JSON.parse(m.value!.toString()).id)).toContain(task.id);
  });

  it('dead-letters at once a non-retriable error and an unknown type', async () => {
    const refused = taskMessage('refuse', {}, { maxAttempts: 5 });
    const unknown = taskMessage('no-such-handler', {});
    await publishTasks(topic, [refused, unknown]);
    expect(await finished(store, refused.id)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(await finished(store, unknown.id)).toMatchObject({
      status: 'failed',
      error: { name: 'UnknownTaskType' },
    });
    expect((await eventually(() => deadLetters.get(refused.id))).reason).toBe('non-retriable');
    expect((await eventually(() => deadLetters.get(unknown.id))).reason).toBe('unknown-type');
  });

  it('dead-letters poison messages and keeps running', async () => {
    await writeRaw(topic, ['{not json', '{"id": "x"}']);
    const after = taskMessage('echo', 'still alive');
    await publishTasks(topic, [after]);
    expect(await finished(store, after.id)).toMatchObject({ status: 'succeeded', result: 'still alive' });
    const page = await eventually(async () => {
      const { items } = await deadLetters.list({ limit: 50 });
      const poison = items.filter((i) => i.reason === 'poison');
      return poison.length >= 2 ? poison : undefined;
    });
    expect(page.map((p) => p.raw).sort()).toEqual(['{"id": "x"}', '{not json']);
  });

  it('times out an attempt, and abandons a handler that ignores its signal without losing its slot', async () => {
    const polite = taskMessage('sleep', { ms: 10_000 }, { timeoutMs: 300, maxAttempts: 1 });
    const stubborn = taskMessage('stubborn', {}, { timeoutMs: 200, maxAttempts: 1 });
    const started = Date.now();
    await publishTasks(topic, [polite, stubborn]);
    expect(await finished(store, polite.id)).toMatchObject({
      status: 'failed',
      error: { name: 'TimeoutError' },
    });
    expect(await finished(store, stubborn.id)).toMatchObject({
      status: 'failed',
      error: { name: 'TimeoutError' },
    });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(await metricValue(worker.url, 'spillway_handlers_abandoned_total{type="stubborn"}')).toBe(1);
    expect(await metricValue(worker.url, 'spillway_tasks_in_flight')).toBe(0);
  });

  it('cancels a running task: its signal aborts and it ends cancelled', async () => {
    const task = taskMessage('sleep', { ms: 20_000 });
    await publishTasks(topic, [task]);
    await eventually(async () => ((await store.get(task.id))?.status === 'running' ? true : undefined));
    const started = Date.now();
    expect(await store.cancel(task.id, new Date())).toMatchObject({ applied: true, previous: 'running' });
    await eventually(async () =>
      (await metricValue(
        worker.url,
        'spillway_tasks_processed_total{type="sleep",outcome="cancelled",tenant="default"}',
      )) === 1
        ? true
        : undefined,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await store.get(task.id))?.status).toBe('cancelled');
  });

  it('shows progress reported by a running handler', async () => {
    const task = taskMessage('reporting', {});
    await publishTasks(topic, [task]);
    const seen = await eventually(async () => (await store.get(task.id))?.progress);
    expect(seen).toEqual({ done: 1, of: 2 });
    expect(await finished(store, task.id)).toMatchObject({ status: 'succeeded', result: 'reported' });
  });

  it('counts retries and dead letters in its metrics', async () => {
    expect(await metricValue(worker.url, 'spillway_task_retries_total{type="flaky"}')).toBe(2);
    expect(
      await metricValue(worker.url, 'spillway_dead_letters_total{reason="attempts-exhausted"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(await metricValue(worker.url, 'spillway_dead_letters_total{reason="poison"}')).toBe(2);
  });
});

describe('completion callbacks', () => {
  const queue = uniqueQueue();
  const { store } = stores(queue);
  const SECRET = 'callback-secret-for-tests';
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  let receiver: Server;
  let hookUrl: string;
  let worker: Awaited<ReturnType<typeof workerFor>>;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/spillway`;
    worker = await workerFor(queue, {
      CALLBACK_SECRET: SECRET,
      RETRY_BASE_DELAY_MS: '100',
      // The receiver listens on loopback, which callbacks reach only when allowed.
      CALLBACK_ALLOW_CIDRS: '127.0.0.1/32',
    });
  });
  afterAll(async () => {
    await worker.stop();
    await store.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('POSTs the signed final record once the task finished, and records the delivery on the task', async () => {
    const task = taskMessage('flaky', { failTimes: 1 }, { callbackUrl: hookUrl });
    await publishTasks(kafkaNames(queue).tasksTopic, [task]);
    const record = await eventually(async () => {
      const r = await store.get(task.id);
      return r?.callback ? r : undefined;
    });
    expect(record.callback).toMatchObject({ delivered: true, attempts: 1, status: 204 });
    // Only the final outcome is announced, not the failed first attempt.
    const calls = received.filter((r) => r.headers['spillway-task-id'] === task.id);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(verifySignature(SECRET, call!.headers['spillway-signature'] as string, call!.body)).toBe(true);
    expect(verifySignature('another-secret', call!.headers['spillway-signature'] as string, call!.body)).toBe(
      false,
    );
    expect(JSON.parse(call!.body)).toMatchObject({
      id: task.id,
      status: 'succeeded',
      attempts: 2,
      result: { succeededOnAttempt: 2 },
      history: [{ attempt: 1 }],
    });
  });

  it('announces a dead-lettered task too', async () => {
    const task = taskMessage('fail', { message: 'nope' }, { maxAttempts: 1, callbackUrl: hookUrl });
    await publishTasks(kafkaNames(queue).tasksTopic, [task]);
    const call = await eventually(async () =>
      received.find((r) => r.headers['spillway-task-id'] === task.id),
    );
    expect(JSON.parse(call.body)).toMatchObject({
      id: task.id,
      status: 'failed',
      error: { message: 'nope' },
    });
  });
});

describe('attempt timeouts the worker sets', () => {
  const queue = uniqueQueue();
  const { store } = stores(queue);
  afterAll(() => store.close());

  it('gives a task without timeoutMs the default, and cuts one that asks for more at the most', async () => {
    const worker = await workerFor(queue, { TASK_DEFAULT_TIMEOUT_MS: '300', TASK_MAX_TIMEOUT_MS: '600' });
    try {
      // The demo sleep of 24 days that pinned a slot: now it ends at the default.
      const unbounded = taskMessage('sleep', { ms: 2_147_483_647 }, { maxAttempts: 1 });
      const greedy = taskMessage('sleep', { ms: 60_000 }, { timeoutMs: 50_000, maxAttempts: 1 });
      const started = Date.now();
      await publishTasks(kafkaNames(queue).tasksTopic, [unbounded, greedy]);
      expect(await finished(store, unbounded.id)).toMatchObject({
        status: 'failed',
        error: { name: 'TimeoutError', message: 'the attempt timed out after 300 ms' },
      });
      expect(await finished(store, greedy.id)).toMatchObject({
        status: 'failed',
        error: { name: 'TimeoutError', message: 'the attempt timed out after 600 ms' },
      });
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await worker.stop();
    }
  });
});
