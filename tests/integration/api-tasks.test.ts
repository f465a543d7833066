import type { RunningWorker } from '../../services/worker/main';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RELEASE_AT_HEADER } from '../../services/shared/kafka/delay-tiers';
import { request } from '../helpers/http';
import { readTopic } from '../helpers/kafka';
import { apiFor, workerFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

const post = (url: string, path: string, json: unknown, headers: Record<string, string> = {}) =>
  request(url, 'POST', path, { json, headers });

describe('idempotency keys', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  beforeAll(async () => (api = await apiFor(queue)));
  afterAll(() => api.stop());

  it('returns the original task for a repeat, creating one task, and 409 for the same key with another body', async () => {
    const body = { type: 'echo', payload: { order: 1 } };
    const first = await post(api.url, '/v1/tasks', body, { 'Idempotency-Key': 'order-1' });
    expect(first.status).toBe(202);
    const again = await post(api.url, '/v1/tasks', body, { 'Idempotency-Key': 'order-1' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);

    const other = await post(
      api.url,
      '/v1/tasks',
      { ...body, payload: { order: 2 } },
      { 'Idempotency-Key': 'order-1' },
    );
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('idempotency_key_reused');

    // Concurrent duplicates: exactly one creates a task.
    const racers = await Promise.all(
      Array.from({ length: 5 }, () => post(api.url, '/v1/tasks', body, { 'Idempotency-Key': 'order-race' })),
    );
    const created = racers.filter((r) => r.status === 202);
    expect(created).toHaveLength(1);
    for (const r of racers.filter((r) => r.status !== 202)) {
      expect([200, 409]).toContain(r.status);
      if (r.status === 200) expect(r.body.id).toBe(created[0]!.body.id);
      else expect(r.body.error.code).toBe('idempotency_request_in_progress');
    }

    // Two tasks in all reached Kafka: order-1 once and order-race once.
    const messages = await readTopic(kafkaNames(queue).tasksTopic, 2);
    expect(new Set(messages.map((m) => JSON.parse(m.value!.toString()).id))).toEqual(
      new Set([first.body.id, created[0]!.body.id]),
    );
  });

  it('rejects an unusable key', async () => {
    const res = await post(api.url, '/v1/tasks', { type: 'echo' }, { 'Idempotency-Key': 'x'.repeat(300) });
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].field).toBe('Idempotency-Key');
  });
});

describe('batch submission', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  beforeAll(async () => (api = await apiFor(queue, { BATCH_MAX_TASKS: '5' })));
  afterAll(() => api.stop());

  it('accepts the valid items in one Kafka round trip and reports each invalid one in place', async () => {
    const metricsBefore = (await request(api.url, 'GET', '/metrics')).body as string;
    const res = await post(api.url, '/v1/tasks/batch', {
      tasks: [{ type: 'echo', payload: 1 }, { type: 'bad type' }, { type: 'echo', payload: 3, key: 'k' }],
    });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected).toBe(1);
    expect(res.body.results[0]).toMatchObject({ type: 'echo', status: 'queued' });
    expect(res.body.results[1].error).toMatchObject({
      code: 'validation_failed',
      details: [{ field: 'tasks[1].type', message: expect.any(String) }],
    });
    expect(res.body.results[2]).toMatchObject({ type: 'echo', status: 'queued' });

    const count = (text: string) => Number(/spillway_kafka_send_batch_size_count (\d+)/.exec(text)?.[1] ?? 0);
    const metricsAfter = (await request(api.url, 'GET', '/metrics')).body as string;
    expect(count(metricsAfter) - count(metricsBefore)).toBe(1);

    const messages = await readTopic(kafkaNames(queue).tasksTopic, 2);
    const keyed = messages.find((m) => m.key?.toString() === 'k');
    expect(JSON.parse(keyed!.value!.toString())).toMatchObject({ id: res.body.results[2].id, payload: 3 });
  });

  it('is a 422 in the error shape when no item is valid, or the batch is too big or empty', async () => {
    const none = await post(api.url, '/v1/tasks/batch', { tasks: [{ nope: 1 }] });
    expect(none.status).toBe(422);
    expect(none.body.error.details).toEqual(
      expect.arrayContaining([{ field: 'tasks[0].type', message: 'required' }]),
    );
    const tooMany = await post(api.url, '/v1/tasks/batch', { tasks: Array(6).fill({ type: 'echo' }) });
    expect(tooMany.status).toBe(422);
    expect((await post(api.url, '/v1/tasks/batch', { tasks: [] })).status).toBe(422);
  });
});

describe('long-poll, cancellation, delays and stats with a worker', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: RunningWorker | undefined;
  beforeAll(async () => (api = await apiFor(queue)));
  afterAll(async () => {
    await worker?.stop();
    await api.stop();
  });

  it('counts waiting tasks and lag while no worker runs; a cancelled waiting task never runs', async () => {
    const waiting = await Promise.all(
      [1, 2, 3].map((n) => post(api.url, '/v1/tasks', { type: 'echo', payload: n })),
    );
    const cancelled = await request(api.url, 'DELETE', `/v1/tasks/${waiting[0]!.body.id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', finishedAt: expect.any(String) });
    expect((await request(api.url, 'DELETE', `/v1/tasks/${waiting[0]!.body.id}`)).body.error.code).toBe(
      'task_finished',
    );
    expect((await request(api.url, 'DELETE', '/v1/tasks/unknown-id')).status).toBe(404);

    await new Promise((resolve) => setTimeout(resolve, 50));
    const stats = await request(api.url, 'GET', '/v1/stats');
    expect(stats.status).toBe(200);
    expect(stats.body.counts).toMatchObject({ queued: 2, cancelled: 1, running: 0 });
    expect(stats.body.oldestWaitingAgeSeconds).toBeGreaterThan(0);
    expect(stats.body.lag.total).toBe(3);
    // Three partitions in each lane; these normal tasks lag in the normal lane only.
    expect(stats.body.lag.partitions).toHaveLength(12);
    expect(stats.body.lag.byLane).toEqual({ high: 0, normal: 3, low: 0, overflow: 0 });

    worker = await workerFor(queue);
    for (const { body } of waiting.slice(1)) {
      const done = await request(api.url, 'GET', `/v1/tasks/${body.id}?wait=20`);
      expect(done.body.status).toBe('succeeded');
    }
    expect((await request(api.url, 'GET', `/v1/tasks/${waiting[0]!.body.id}`)).body.status).toBe('cancelled');
    const drained = await eventually(async () => {
      const res = await request(api.url, 'GET', '/v1/stats');
      return res.body.lag.total === 0 ? res.body : undefined;
    });
    expect(drained.oldestWaitingAgeSeconds).toBeNull();
    expect(drained.counts).toMatchObject({ queued: 0, succeeded: 2, cancelled: 1 });
  });

  it('long-polls until the task finishes, without waiting out the full time', async () => {
    const submitted = await post(api.url, '/v1/tasks', { type: 'sleep', payload: { ms: 700 } });
    const started = Date.now();
    const res = await request(api.url, 'GET', `/v1/tasks/${submitted.body.id}?wait=15`);
    const elapsed = Date.now() - started;
    expect(res.body).toMatchObject({ status: 'succeeded', result: { sleptMs: 700 } });
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('answers a long-poll with the current record when the time is up', async () => {
    const submitted = await post(api.url, '/v1/tasks', { type: 'sleep', payload: { ms: 4000 } });
    const started = Date.now();
    const res = await request(api.url, 'GET', `/v1/tasks/${submitted.body.id}?wait=1`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(['queued', 'running']).toContain(res.body.status);
    expect((await request(api.url, 'GET', `/v1/tasks/${submitted.body.id}?wait=soon`)).status).toBe(422);
  });

  it('schedules a delayed task on its delay tier and can cancel it', async () => {
    const before = Date.now();
    const res = await post(api.url, '/v1/tasks', { type: 'echo', delayMs: 90_000 });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('scheduled');
    expect(Date.parse(res.body.runAt)).toBeGreaterThanOrEqual(before + 90_000);
    const record = await request(api.url, 'GET', `/v1/tasks/${res.body.id}`);
    expect(record.body).toMatchObject({ status: 'scheduled', runAt: res.body.runAt });

    const tier = kafkaNames(queue).delayTiers.find((t) => t.delayMs === 60_000)!;
    const [message] = await readTopic(tier.topic, 1);
    expect(JSON.parse(message!.value!.toString()).id).toBe(res.body.id);
    expect(Number(message!.headers![RELEASE_AT_HEADER]!.toString())).toBeGreaterThanOrEqual(before + 60_000);

    expect((await request(api.url, 'DELETE', `/v1/tasks/${res.body.id}`)).body.status).toBe('cancelled');
  });
});
