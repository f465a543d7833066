import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RedisKeys } from '../../services/shared/redis/keys';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import type { Transition } from '../../services/shared/redis/task-store';
import { eventually, REDIS_URL, uniqueQueue } from '../helpers/stack';
import { deleteMatching } from '../helpers/redis-keys';
import { freePort, PrivateRedis } from '../helpers/redis-server';

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
    await deleteMatching(raw, `${new RedisKeys(queue).prefix}*`);
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

  it('lets the queued write of a released delay outrank a late scheduled write', async () => {
    const id = randomUUID();
    await store.transition(change(id, 'queued', 0));
    expect(await store.transition(change(id, 'scheduled', 0))).toEqual({ applied: false, current: 'queued' });
  });

  it('lets a redelivered attempt start again while the record says running', async () => {
    const id = randomUUID();
    await store.transition(change(id, 'running', 1));
    expect(await store.transition(change(id, 'running', 1))).toEqual({ applied: true, previous: 'running' });
  });

  describe('claims on a running attempt', () => {
    const claim = (claimant: string, ms = 30_000) => ({ claim: { claimant, ms } });

    it('refuses to start an attempt that another live claimant runs, but not its own claimant', async () => {
      const id = randomUUID();
      expect(await store.transition(change(id, 'running', 1, claim('worker-a')))).toEqual({ applied: true });
      expect(await store.transition(change(id, 'running', 1, claim('worker-b')))).toEqual({
        applied: false,
        current: 'running',
        heldElsewhere: true,
      });
      // Its own claimant (a rerun after an unexpected failure) starts it again.
      expect(await store.transition(change(id, 'running', 1, claim('worker-a')))).toEqual({
        applied: true,
        previous: 'running',
      });
    });

    it('lets another claimant start the attempt once the claim lapses (its claimant died)', async () => {
      const id = randomUUID();
      await store.transition(change(id, 'running', 1, claim('worker-a', 300)));
      expect(await store.transition(change(id, 'running', 1, claim('worker-b')))).toMatchObject({
        heldElsewhere: true,
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await store.transition(change(id, 'running', 1, claim('worker-b')))).toEqual({
        applied: true,
        previous: 'running',
      });
    });

    it('is extended only by its claimant, and given up with a length of 0', async () => {
      const id = randomUUID();
      await store.transition(change(id, 'running', 1, claim('worker-a', 300)));
      expect(await store.claim(id, 1, { claimant: 'worker-b', ms: 30_000 })).toBe(false);
      expect(await store.claim(id, 1, { claimant: 'worker-a', ms: 30_000 })).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 400));
      // Extended: still held after its first length.
      expect(await store.transition(change(id, 'running', 1, claim('worker-b')))).toMatchObject({
        heldElsewhere: true,
      });
      expect(await store.claim(id, 1, { claimant: 'worker-a', ms: 0 })).toBe(true);
      expect(await store.transition(change(id, 'running', 1, claim('worker-b')))).toMatchObject({
        applied: true,
      });
      // Not for another attempt, nor once the task moved on.
      expect(await store.claim(id, 2, { claimant: 'worker-b', ms: 30_000 })).toBe(false);
      await store.transition(change(id, 'succeeded', 1));
      expect(await store.claim(id, 1, { claimant: 'worker-b', ms: 30_000 })).toBe(false);
    });

    it('never holds back an outcome, a later attempt or a cancellation', async () => {
      const retried = randomUUID();
      await store.transition(change(retried, 'running', 1, claim('worker-a')));
      expect(await store.transition(change(retried, 'retrying', 1))).toMatchObject({ applied: true });
      expect(await store.transition(change(retried, 'running', 2, claim('worker-b')))).toMatchObject({
        applied: true,
      });
      const cancelled = randomUUID();
      await store.transition(change(cancelled, 'running', 1, claim('worker-a')));
      expect(await store.cancel(cancelled, new Date())).toMatchObject({ applied: true });
    });
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
    expect(outcomes).toEqual([
      { applied: true },
      { applied: true },
      { applied: true },
      { applied: true, previous: 'queued' },
    ]);
    expect((await Promise.all(ids.map((id) => store.get(id)))).map((r) => r?.status)).toEqual([
      'queued',
      'queued',
      'queued',
    ]);
  });

  it('cancels a waiting or running task whatever its attempt, but not a finished one or an unknown one', async () => {
    const waiting = randomUUID();
    await store.transition(change(waiting, 'queued', 0));
    expect(await store.cancel(waiting, new Date())).toEqual({ applied: true, previous: 'queued' });
    expect(await store.get(waiting)).toMatchObject({ status: 'cancelled', attempts: 0 });

    const running = randomUUID();
    await store.transition(change(running, 'running', 2));
    expect(await store.cancel(running, new Date())).toEqual({ applied: true, previous: 'running' });
    expect(await store.get(running)).toMatchObject({ status: 'cancelled', attempts: 2 });
    // The worker's late success cannot undo the cancellation.
    expect(await store.transition(change(running, 'succeeded', 2))).toEqual({
      applied: false,
      current: 'cancelled',
    });

    expect(await store.cancel(running, new Date())).toEqual({ applied: false, current: 'cancelled' });
    expect(await store.cancel(randomUUID(), new Date())).toEqual({ applied: false });
  });

  it('announces the cancellation of a running task to the workers, and only of a running one', async () => {
    const subscriber = raw.duplicate();
    const heard: string[] = [];
    subscriber.on('message', (_channel, id: string) => heard.push(id));
    await subscriber.subscribe(new RedisKeys(queue).cancelChannel());
    const [running, waiting] = [randomUUID(), randomUUID()];
    await store.transition(change(running, 'running', 1));
    await store.transition(change(waiting, 'queued', 0));
    await store.cancel(waiting, new Date());
    await store.cancel(running, new Date());
    await eventually(async () => (heard.length > 0 ? true : undefined), 5000);
    expect(heard).toEqual([running]);
    await subscriber.quit();
  });

  it('keeps counts by status and the oldest waiting task in step with transitions', async () => {
    const own = new RedisTaskStore({ url: REDIS_URL, queue: uniqueQueue(), ttlSeconds: 60 });
    try {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await own.transition(change(a, 'queued', 0, { at: new Date(1_000) }));
      await own.transition(change(b, 'queued', 0, { at: new Date(2_000) }));
      await own.transition(change(c, 'scheduled', 0));
      expect(await own.oldestWaitingSince()).toEqual(new Date(1_000));
      await own.transition(change(a, 'running', 1));
      await own.transition(change(a, 'running', 1)); // a redelivery counts once
      expect(await own.oldestWaitingSince()).toEqual(new Date(2_000));
      await own.transition(change(a, 'succeeded', 1));
      await own.cancel(b, new Date());
      expect(await own.oldestWaitingSince()).toBeUndefined();
      expect(await own.counts()).toEqual({
        queued: 0,
        scheduled: 1,
        running: 0,
        retrying: 0,
        'waiting-children': 0,
        succeeded: 1,
        failed: 0,
        cancelled: 1,
      });
    } finally {
      await own.close();
    }
  });

  it('keeps the type and creation time a record was created with, whatever later writes carry', async () => {
    const id = randomUUID();
    await store.transition(change(id, 'queued', 0));
    const later = { type: 'other', createdAt: new Date('2030-01-01T00:00:00.000Z') };
    await store.transition(change(id, 'running', 1, later));
    await store.transition(change(id, 'succeeded', 1, { ...later, result: { ok: true } }));
    expect(await store.get(id)).toMatchObject({
      type: 'echo',
      createdAt,
      status: 'succeeded',
      attempts: 1,
      result: { ok: true },
    });
  });

  it('drops a task whose record expired while queued from the waiting set on its next write', async () => {
    const ownQueue = uniqueQueue();
    const own = new RedisTaskStore({ url: REDIS_URL, queue: ownQueue, ttlSeconds: 60 });
    try {
      const id = randomUUID();
      await own.transition(change(id, 'queued', 0, { at: new Date(1_000) }));
      await raw.del(new RedisKeys(ownQueue).task(id)); // what its TTL would do
      await own.transition(change(id, 'running', 1));
      expect(await own.oldestWaitingSince()).toBeUndefined();
    } finally {
      await deleteMatching(raw, `${new RedisKeys(ownQueue).prefix}*`);
      await own.close();
    }
  });

  it('announces a finish on the task channel', async () => {
    const id = randomUUID();
    const subscriber = raw.duplicate();
    const heard = new Promise<string>((resolve) =>
      subscriber.on('message', (_channel, status) => resolve(status)),
    );
    await subscriber.subscribe(new RedisKeys(queue).finishedChannel(id));
    await store.transition(change(id, 'running', 1));
    await store.transition(change(id, 'failed', 1, { error: { name: 'Error', message: 'x' } }));
    expect(await heard).toBe('failed');
    await subscriber.quit();
  });

  it('keeps a finished record for the finished TTL, an unfinished one for the longer TTL', async () => {
    const short = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600, finishedTtlSeconds: 600 });
    try {
      const id = randomUUID();
      const key = new RedisKeys(queue).task(id);
      await short.transition(change(id, 'running', 1));
      expect(await raw.ttl(key)).toBeGreaterThan(3590);
      await short.transition(change(id, 'succeeded', 1, { result: { ok: true } }));
      expect(await raw.ttl(key)).toBeGreaterThan(590);
      expect(await raw.ttl(key)).toBeLessThanOrEqual(600);
      const cancelled = randomUUID();
      await short.transition(change(cancelled, 'queued', 0));
      await short.cancel(cancelled, new Date());
      expect(await raw.ttl(new RedisKeys(queue).task(cancelled))).toBeLessThanOrEqual(600);
    } finally {
      await short.close();
    }
  });

  it('keeps a scheduled record, and its cancellation, until runAt plus the TTL', async () => {
    const id = randomUUID();
    const runAt = new Date(Date.now() + 30 * 24 * 3600_000);
    await store.transition(change(id, 'scheduled', 0, { runAt }));
    const key = new RedisKeys(queue).task(id);
    const expected = 30 * 24 * 3600 + 3600;
    expect(await raw.ttl(key)).toBeGreaterThan(expected - 5);
    expect(await store.cancel(id, new Date())).toEqual({ applied: true, previous: 'scheduled' });
    expect(await raw.ttl(key)).toBeGreaterThan(expected - 5);
    expect(await raw.ttl(key)).toBeLessThanOrEqual(expected + 1);
  });

  it('never runs a task cancelled while it waited longer than the TTL', async () => {
    // A one-second TTL and a delay of 2.5 s: the record must outlive the TTL to stop the run.
    const short = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 1 });
    try {
      const id = randomUUID();
      await short.transition(change(id, 'scheduled', 0, { runAt: new Date(Date.now() + 2500) }));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await short.cancel(id, new Date())).toEqual({ applied: true, previous: 'scheduled' });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // Released: the worker's first write finds the cancellation instead of creating a record.
      expect(await short.transition(change(id, 'running', 1))).toEqual({
        applied: false,
        current: 'cancelled',
      });
    } finally {
      await short.close();
    }
  });

  it('expires records after the configured TTL', async () => {
    const id = randomUUID();
    await store.transition(change(id, 'queued', 0));
    const ttl = await raw.ttl(new RedisKeys(queue).task(id));
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);
  });
});

describe('RedisTaskStore against a private real redis-server', () => {
  let server: PrivateRedis;
  let store: RedisTaskStore;
  let raw: Redis;

  beforeAll(async () => {
    server = new PrivateRedis(await freePort());
    await server.start();
    store = new RedisTaskStore({ url: server.url, queue: uniqueQueue(), ttlSeconds: 3600 });
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    await store.close();
    raw.disconnect();
    await server.stop();
  });

  /** Script calls Redis ran (EVALSHA, or EVAL when ioredis had to send a script it had not loaded). */
  const scriptCalls = async () => {
    const stats = await raw.info('commandstats');
    const calls = (command: string) =>
      Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    return calls('evalsha') + calls('eval');
  };

  it('sends the transitions asked for together in few script calls, applied in the order asked', async () => {
    const at = new Date();
    const ids = Array.from({ length: 125 }, () => randomUUID());
    // Queued then running for each id, 250 transitions in all, asked for in one turn.
    const changes = ids.flatMap((id): Transition[] => [
      { id, type: 'echo', createdAt: at, status: 'queued', attempt: 0, at },
      { id, type: 'echo', createdAt: at, status: 'running', attempt: 1, at },
    ]);
    const before = await scriptCalls();
    const outcomes = await store.transitionMany(changes);
    expect(outcomes).toEqual(ids.flatMap(() => [{ applied: true }, { applied: true, previous: 'queued' }]));
    // 8 per call at most.
    expect((await scriptCalls()) - before).toBe(32);
    expect(await store.counts()).toMatchObject({ queued: 0, running: 125 });
    expect((await store.get(ids[124]!))?.status).toBe('running');
  });

  it('answers each of several single transitions asked for in the same turn with its own outcome', async () => {
    const at = new Date();
    const known = randomUUID();
    await store.transition({ id: known, type: 'echo', createdAt: at, status: 'succeeded', attempt: 1, at });
    const [late, fresh] = await Promise.all([
      store.transition({ id: known, type: 'echo', createdAt: at, status: 'running', attempt: 1, at }),
      store.transition({ id: randomUUID(), type: 'echo', createdAt: at, status: 'queued', attempt: 0, at }),
    ]);
    expect(late).toEqual({ applied: false, current: 'succeeded' });
    expect(fresh).toEqual({ applied: true });
  });

  it('loads the transition scripts again after a restart or SCRIPT FLUSH', async () => {
    const at = new Date();
    const queued = (id: string): Transition => ({
      id,
      type: 'echo',
      createdAt: at,
      status: 'queued',
      attempt: 0,
      at,
    });
    await store.transitionMany([queued(randomUUID())]);
    await raw.script('FLUSH');
    const ids = [randomUUID(), randomUUID()];
    expect(await store.transitionMany(ids.map(queued))).toEqual([{ applied: true }, { applied: true }]);
    await raw.script('FLUSH');
    expect(await store.transition(queued(randomUUID()))).toEqual({ applied: true });
    expect((await Promise.all(ids.map((id) => store.get(id)))).map((r) => r?.status)).toEqual([
      'queued',
      'queued',
    ]);
  });
});
