import type { ServerResponse } from 'node:http';
import { kafkaNames } from '../../services/shared/kafka/names';
import { CallbackOutbox } from '../../services/shared/redis/callback-outbox';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { receiver } from '../helpers/receiver';
import { workerFor } from '../helpers/services';
import { eventually, REDIS_URL, uniqueQueue } from '../helpers/stack';
import { finished, publishTasks, taskMessage } from '../helpers/tasks';

/**
 * Completion callbacks leave the task's slot: the outcome is final in Redis, the task's slot and
 * offset are released, and the callback waits in an outbox (a Redis stream) that every worker
 * delivers from, a few at a time per host. A receiver that hangs holds its own places only; a
 * worker that stops or dies mid-delivery leaves its callbacks to another.
 */
describe('the callback outbox', () => {
  const queue = uniqueQueue();
  const names = kafkaNames(queue);
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  const outbox = new CallbackOutbox(REDIS_URL, queue);
  // Four slots; callbacks to loopback allowed; an attempt may hang for a minute.
  const env = {
    WORKER_CONCURRENCY: '4',
    CALLBACK_ALLOW_CIDRS: '127.0.0.0/8',
    CALLBACK_TIMEOUT_MS: '60000',
    CALLBACK_PER_HOST: '2',
    CALLBACK_CLAIM_IDLE_MS: '2000',
  };
  /** Hangs every request until `answering` is set; from then on answers 200. */
  let answering = false;
  const stuck: ServerResponse[] = [];
  let hanging: Awaited<ReturnType<typeof receiver>>;
  let healthy: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    hanging = await receiver((res) => (answering ? res.writeHead(200).end('ok') : stuck.push(res)));
    healthy = await receiver((res) => res.writeHead(200).end('ok'));
  });
  afterAll(async () => {
    await Promise.all([hanging.close(), healthy.close(), store.close(), outbox.close()]);
  });

  const hangingTasks = Array.from({ length: 8 }, () =>
    taskMessage('echo', { to: 'hanging' }, { callbackUrl: '' }),
  );
  const delivered = (taskId: string) =>
    healthy.received.some((r) => r.headers['spillway-task-id'] === taskId);

  it("runs everything else at full speed while one host's receiver hangs", async () => {
    for (const task of hangingTasks) task.callbackUrl = hanging.url;
    const plain = Array.from({ length: 20 }, (_, i) => taskMessage('echo', { i }));
    const elsewhere = Array.from({ length: 4 }, () => taskMessage('echo', {}, { callbackUrl: healthy.url }));
    const worker = await workerFor(queue, env);
    try {
      // The hanging host's tasks first: they finish first, and their callbacks then hang.
      await publishTasks(names.tasksTopic, hangingTasks);
      await eventually(async () => (stuck.length === 2 ? true : undefined), 15_000, 'two callbacks hanging');
      const started = Date.now();
      await publishTasks(names.tasksTopic, [...plain, ...elsewhere]);
      for (const task of [...hangingTasks, ...plain, ...elsewhere]) {
        expect((await finished(store, task.id, 15_000)).status).toBe('succeeded');
      }
      // 24 tasks on four slots, none held by the hanging callbacks.
      expect(Date.now() - started).toBeLessThan(10_000);
      await eventually(
        async () => (elsewhere.every((t) => delivered(t.id)) ? true : undefined),
        10_000,
        'callbacks to the healthy host',
      );
      // The hanging host never has more than its two places.
      expect(stuck).toHaveLength(2);
      await eventually(
        async () => ((await outbox.waiting()) === hangingTasks.length ? true : undefined),
        5000,
        'only the hanging callbacks waiting',
      );
    } finally {
      await worker.stop();
    }
  }, 60_000);

  it('lets another worker deliver what a stopped worker had taken, and what a dead one left', async () => {
    // A consumer that takes entries and dies without settling them.
    const extra = taskMessage('echo', {}, { callbackUrl: healthy.url });
    await outbox.enqueue(extra.id, healthy.url);
    // (Its task needs a record for the delivery to send.)
    await store.transition({
      id: extra.id,
      type: 'echo',
      createdAt: new Date(),
      status: 'succeeded',
      attempt: 1,
      at: new Date(),
      result: null,
    });
    const taken = await outbox.take('a-worker-that-died', 100, 1000);
    expect(taken.map((e) => e.taskId)).toContain(extra.id);

    answering = true;
    for (const res of stuck) res.destroy();
    const next = await workerFor(queue, env);
    try {
      await eventually(
        async () => {
          const records = await Promise.all([...hangingTasks, extra].map((t) => store.get(t.id)));
          return records.every((r) => (r?.callback as { delivered?: boolean } | undefined)?.delivered)
            ? true
            : undefined;
        },
        20_000,
        'every callback delivered',
      );
      await eventually(
        async () => ((await outbox.waiting()) === 0 ? true : undefined),
        5000,
        'the outbox empty',
      );
    } finally {
      await next.stop();
    }
  }, 60_000);
});
