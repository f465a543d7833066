import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RedisKeys } from '../../services/shared/redis/keys';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import type { Transition } from '../../services/shared/redis/task-store';
import { REDIS_URL, uniqueQueue } from '../helpers/stack';

describe('RedisTaskStore against a real Redis', () => {
  const queue = uniqueQueue();
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  const raw = new Redis(REDIS_URL);
  const createdAt = new Date('2026-01-02T03:04:05.000Z');

  const change = (
    id: string,
    status: Transition['status'],
    attempt: number,
    extra: Partial<Transition> = {},
  ) => ({
    id,
    type: 'echo',
    createdAt,
    status,
    attempt,
    at: new Date(),
    ...extra,
  });

  afterAll(async () => {
    const keys = await raw.keys(`${new RedisKeys(queue).prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    await Promise.all([store.close(), raw.quit()]);
  });

  it('returns undefined for an unknown id', async () => {
    expect(await store.get(randomUUID())).toBeUndefined();
  });

  it('records a task through its life', async () => {
    const id = randomUUID();
    expect(await store.transition(change(id, 'queued', 0))).toEqual({ applied: true });
    expect(await store.get(id)).toEqual({ id, type: 'echo', status: 'queued', attempts: 0, createdAt });

    await store.transition(change(id, 'running', 1));
    await store.transition(change(id, 'succeeded', 1, { result: { answer: 42 } }));
    const record = await store.get(id);
    expect(record).toMatchObject({ status: 'succeeded', attempts: 1, result: { answer: 42 } });
    expect(record?.startedAt).toBeInstanceOf(Date);
    expect(record?.finishedAt!.getTime()).toBeGreaterThanOrEqual(record!.startedAt!.getTime());
  });

  it('ignores a late queued write after the worker started the task', async () => {
    const id = randomUUID();
    await store.transition(change(id, 'running', 1));
    expect(await store.transition(change(id, 'queued', 0))).toEqual({ applied: false, current: 'running' });
    expect((await store.get(id))?.status).toBe('running');
  });

  it('never changes a terminal record, whatever arrives after', async () => {
    const id = randomUUID();
    await store.transition(change(id, 'failed', 1, { error: { name: 'Error', message: 'boom' } }));
    for (const [status, attempt] of [
      ['queued', 0],
      ['running', 1],
      ['running', 2],
      ['succeeded', 1],
    ] as const) {
      expect(await store.transition(change(id, status, attempt))).toEqual({
        applied: false,
        current: 'failed',
      });
    }
    expect(await store.get(id)).toMatchObject({ status: 'failed', error: { message: 'boom' } });
  });

  it('lets a redelivered attempt start again while the record says running', async () => {
    const id = randomUUID();
    await store.transition(change(id, 'running', 1));
    expect(await store.transition(change(id, 'running', 1))).toEqual({ applied: true });
  });

  it('creates the record from a worker write when the queued write never happened', async () => {
    const id = randomUUID();
    await store.transition(change(id, 'running', 1, { type: 'sleep' }));
    expect(await store.get(id)).toMatchObject({ id, type: 'sleep', status: 'running', createdAt });
  });

  it('applies a batch of transitions in order in one call', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const outcomes = await store.transitionMany([
      ...ids.map((id) => change(id, 'queued', 0)),
      change(ids[0]!, 'queued', 0),
    ]);
    expect(outcomes).toEqual([{ applied: true }, { applied: true }, { applied: true }, { applied: true }]);
    expect((await Promise.all(ids.map((id) => store.get(id)))).map((r) => r?.status)).toEqual([
      'queued',
      'queued',
      'queued',
    ]);
  });

  it('expires records after the configured TTL', async () => {
    const id = randomUUID();
    await store.transition(change(id, 'queued', 0));
    const ttl = await raw.ttl(new RedisKeys(queue).task(id));
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);
  });
});
