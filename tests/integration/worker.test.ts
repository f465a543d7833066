import { randomUUID } from 'node:crypto';
import { loadWorkerConfig } from '../../services/worker/config';
import { registerDemoHandlers } from '../../services/worker/demo-handlers';
import { HandlerRegistry } from '../../services/worker/handlers';
import { startWorker, type RunningWorker } from '../../services/worker/main';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { encodeTaskMessage, partitionKeyOf } from '../../services/shared/task-message';
import type { JsonValue, TaskRecord } from '../../services/shared/task';
import { request } from '../helpers/http';
import { produce, writeRaw } from '../helpers/kafka';
import { eventually, KAFKA_BROKERS, quietLogger, REDIS_URL, uniqueQueue } from '../helpers/stack';

describe('worker against real Kafka and Redis', () => {
  const queue = uniqueQueue();
  const topic = kafkaNames(queue).tasksTopic;
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  const runs = new Map<string, number>();
  let worker: RunningWorker;

  beforeAll(async () => {
    const count = async (ctx: { taskId: string; attempt: number }, ms: number) => {
      runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return { attempt: ctx.attempt };
    };
    const handlers = registerDemoHandlers(new HandlerRegistry())
      .register('count', (_payload, ctx) => count(ctx, 0))
      .register('count-slowly', (_payload, ctx) => count(ctx, 500));
    const config = loadWorkerConfig({ PORT: '0', SPILLWAY_QUEUE: queue, KAFKA_BROKERS, REDIS_URL });
    worker = await startWorker(config, quietLogger, handlers);
  });
  afterAll(async () => {
    await worker.stop();
    await store.close();
  });

  async function submit(type: string, payload: JsonValue): Promise<string> {
    const id = randomUUID();
    await writeRaw(topic, [encodeTaskMessage({ id, type, payload, enqueuedAt: Date.now(), maxAttempts: 1 })]);
    return id;
  }

  const finished = (id: string) =>
    eventually(
      async () => {
        const record = await store.get(id);
        return record && ['succeeded', 'failed'].includes(record.status) ? record : undefined;
      },
      20_000,
      `task ${id} finished`,
    );

  it('runs an echo task and records its result', async () => {
    const id = await submit('echo', { n: 7 });
    const record: TaskRecord = await finished(id);
    expect(record).toMatchObject({ id, type: 'echo', status: 'succeeded', attempts: 1, result: { n: 7 } });
    expect(record.startedAt!.getTime()).toBeLessThanOrEqual(record.finishedAt!.getTime());
  });

  it('records a failing handler as failed, with its error', async () => {
    const id = await submit('fail', { message: 'disk full' });
    expect(await finished(id)).toMatchObject({
      status: 'failed',
      error: { name: 'Error', message: 'disk full' },
    });
  });

  it('fails a task whose type has no handler, naming the type', async () => {
    const id = await submit('no-such-type', {});
    expect(await finished(id)).toMatchObject({
      status: 'failed',
      error: { name: 'UnknownTaskType', message: 'no handler for task type "no-such-type"' },
    });
  });

  it('runs a sleep task for about as long as asked', async () => {
    const id = await submit('sleep', { ms: 300 });
    const record = await finished(id);
    expect(record).toMatchObject({ status: 'succeeded', result: { sleptMs: 300 } });
    expect(record.finishedAt!.getTime() - record.startedAt!.getTime()).toBeGreaterThanOrEqual(290);
  });

  it('skips poison messages and keeps consuming', async () => {
    await writeRaw(topic, ['not json', null, '{"id": 42}']);
    const id = await submit('echo', 'after the poison');
    expect(await finished(id)).toMatchObject({ status: 'succeeded', result: 'after the poison' });
    const metrics = (await request(`http://127.0.0.1:${worker.port}`, 'GET', '/metrics')).body as string;
    expect(metrics).toContain('spillway_poison_messages_total 3');
  });

  it('does not run a redelivered task that already succeeded', async () => {
    const id = randomUUID();
    const message = encodeTaskMessage({
      id,
      type: 'count',
      payload: null,
      enqueuedAt: Date.now(),
      maxAttempts: 1,
    });
    await writeRaw(topic, [message]);
    await finished(id);
    await writeRaw(topic, [message]);
    const marker = await submit('echo', 'marker');
    await finished(marker);
    // Each partition is consumed in order, but the marker may sit on another partition:
    // wait until the duplicate was seen before counting runs.
    await eventually(async () => {
      const metrics = (await request(`http://127.0.0.1:${worker.port}`, 'GET', '/metrics')).body as string;
      return /spillway_task_duplicates_skipped_total\{type="count"\} 1/.test(metrics) ? true : undefined;
    });
    expect(runs.get(id)).toBe(1);
  });

  it('runs two copies of one task published together (an Idempotency-Key retry) once', async () => {
    const id = randomUUID();
    // As the API publishes them: keyed by the id, so both copies are in one partition.
    const copy = {
      key: partitionKeyOf({ id }),
      value: encodeTaskMessage({
        id,
        type: 'count-slowly',
        payload: null,
        enqueuedAt: Date.now(),
        maxAttempts: 1,
      }),
    };
    await produce(topic, [copy, copy]);
    await finished(id);
    // The second copy waits for the first (key lanes), then finds it succeeded.
    await eventually(async () => {
      const metrics = (await request(`http://127.0.0.1:${worker.port}`, 'GET', '/metrics')).body as string;
      return /spillway_task_duplicates_skipped_total\{type="count-slowly"\} 1/.test(metrics)
        ? true
        : undefined;
    });
    expect(runs.get(id)).toBe(1);
  });

  it('serves readiness and queue-wait / processing metrics', async () => {
    const base = `http://127.0.0.1:${worker.port}`;
    expect((await request(base, 'GET', '/readyz')).body).toEqual({
      status: 'ready',
      checks: { redis: 'ok', kafka: 'ok' },
    });
    const metrics = (await request(base, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(
      /spillway_tasks_processed_total\{type="echo",outcome="succeeded",tenant="default"\} \d+/,
    );
    expect(metrics).toMatch(/spillway_task_queue_wait_seconds_count\{type="echo"\} \d+/);
    expect(metrics).toMatch(/spillway_task_processing_seconds_count\{type="fail",outcome="failed"\} 1/);
  });
});
