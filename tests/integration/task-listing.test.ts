import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { RedisKeys } from '../../services/shared/redis/keys';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { parseTaskEvents, type TaskEvent } from '../../services/shared/redis/task-events';
import { TaskIndex } from '../../services/shared/redis/task-index';
import { request, type Reply } from '../helpers/http';
import { apiFor, handlersWith, workerFor } from '../helpers/services';
import { eventually, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * GET /v1/tasks on the real API, worker, Kafka and Redis: filters, paging, tenants, the indexes
 * following each change of status, the sweeper, the events channel, and re-running a task.
 */
const key = (name: string) => `${name}-key-0123456789abcdef`;
const KEYS_FILE = [
  'tenant acme',
  'tenant globex',
  `key acme ${key('acme')} tasks:submit,tasks:read,tasks:cancel`,
  `key globex ${key('globex')} tasks:submit,tasks:read`,
  `key globex ${key('operator')} admin`,
].join('\n');

interface Row {
  id: string;
  type: string;
  tenant: string;
  status: string;
  createdAt: string;
  key: string | null;
  error: { name: string; message: string } | null;
}

describe('task listing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-listing-'));
  const file = join(dir, 'api-keys');
  writeFileSync(file, KEYS_FILE);
  const queue = uniqueQueue();
  const keys = new RedisKeys(queue);
  const redis = new Redis(REDIS_URL);
  const subscriber = new Redis(REDIS_URL);
  const events: TaskEvent[] = [];
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>>;
  const ids = { echo: [] as string[], fail: [] as string[], keyed: [] as string[], globex: [] as string[] };

  const call = (as: string, method: string, path: string, json?: unknown): Promise<Reply> =>
    request(api.url, method, path, {
      headers: { authorization: `Bearer ${key(as)}` },
      ...(json !== undefined && { json }),
    });
  const submit = async (as: string, task: object) => {
    const res = await call(as, 'POST', '/v1/tasks', task);
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const list = async (as: string, query: string): Promise<Row[]> => {
    const res = await call(as, 'GET', `/v1/tasks?${query}`);
    expect(res.status).toBe(200);
    return res.body.items;
  };
  /** Every page of a listing, following nextCursor. */
  const everyPage = async (as: string, query: string): Promise<{ rows: Row[]; pages: number }> => {
    const rows: Row[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Reply = await call(as, 'GET', `/v1/tasks?${query}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      rows.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages += 1;
    } while (cursor);
    return { rows, pages };
  };

  beforeAll(async () => {
    await subscriber.subscribe(keys.taskEvents());
    subscriber.on('message', (_channel, message: string) => events.push(...parseTaskEvents(message)));
    api = await apiFor(queue, { API_KEYS_FILE: file });
    worker = await workerFor(queue, {}, handlersWith({}));
    for (let i = 0; i < 12; i++) ids.echo.push(await submit('acme', { type: 'echo', payload: { i } }));
    for (let i = 0; i < 5; i++) {
      const message = i % 2 === 0 ? `upstream timeout after ${i} s` : `disk full on node ${i}`;
      ids.fail.push(await submit('acme', { type: 'fail', payload: { message }, maxAttempts: 1 }));
    }
    for (const k of ['order-1', 'order-2', 'invoice-1']) {
      ids.keyed.push(await submit('acme', { type: 'echo', key: k, payload: { k } }));
    }
    for (let i = 0; i < 3; i++) ids.globex.push(await submit('globex', { type: 'echo', payload: { i } }));
    await eventually(
      async () => {
        const rows = await list('operator', 'status=succeeded,failed&limit=200');
        return rows.length === 23 ? rows : undefined;
      },
      30_000,
      'every task finished',
    );
  }, 60_000);

  afterAll(async () => {
    await worker.stop();
    await api.stop();
    subscriber.disconnect();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the caller tenant’s tasks newest first, and admin sees every tenant', async () => {
    const acme = await list('acme', 'limit=200');
    expect(acme.map((r) => r.id).sort()).toEqual([...ids.echo, ...ids.fail, ...ids.keyed].sort());
    expect(acme.every((r) => r.tenant === 'acme')).toBe(true);
    const times = acme.map((r) => Date.parse(r.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const everyone = await list('operator', 'limit=200');
    expect(everyone).toHaveLength(23);
    expect((await list('operator', 'tenant=globex')).map((r) => r.id).sort()).toEqual([...ids.globex].sort());
    const refused = await call('acme', 'GET', '/v1/tasks?tenant=globex');
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('tenant_forbidden');
  });

  it('filters by status, type, error text, key prefix and id prefix', async () => {
    const failed = await list('acme', 'status=failed');
    expect(failed.map((r) => r.id).sort()).toEqual([...ids.fail].sort());
    expect(failed.every((r) => r.error?.message)).toBe(true);
    const timeouts = await list('acme', 'status=failed&q=UPSTREAM%20TIMEOUT');
    expect(timeouts.map((r) => r.error!.message).sort()).toEqual([
      'upstream timeout after 0 s',
      'upstream timeout after 2 s',
      'upstream timeout after 4 s',
    ]);
    expect(await list('acme', 'q=disk%20full&type=fail')).toHaveLength(2);
    expect(await list('acme', 'type=fail&status=succeeded')).toHaveLength(0);
    const orders = await list('acme', 'key=order-');
    expect(orders.map((r) => r.key).sort()).toEqual(['order-1', 'order-2']);
    const one = ids.echo[3]!;
    expect((await list('acme', `id=${one.slice(0, 13)}`)).map((r) => r.id)).toContain(one);
    expect((await list('acme', `id=${one}`)).map((r) => r.id)).toEqual([one]);
  });

  it('bounds by creation time', async () => {
    const all = await list('acme', 'limit=200');
    const middle = all[10]!.createdAt;
    const since = await list('acme', `since=${encodeURIComponent(middle)}&limit=200`);
    const until = await list('acme', `until=${encodeURIComponent(middle)}&limit=200`);
    expect(since.every((r) => r.createdAt >= middle)).toBe(true);
    expect(until.every((r) => r.createdAt < middle)).toBe(true);
    expect(since.length + until.length).toBe(all.length);
  });

  it('pages with a cursor: every task once, in order, whatever the page size', async () => {
    const whole = (await list('operator', 'limit=200')).map((r) => r.id);
    for (const limit of [1, 4, 7]) {
      const { rows, pages } = await everyPage('operator', `limit=${limit}`);
      expect(rows.map((r) => r.id)).toEqual(whole);
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(whole.length / limit));
    }
    const filtered = await everyPage('acme', 'status=failed&limit=2');
    expect(filtered.rows.map((r) => r.id).sort()).toEqual([...ids.fail].sort());
  });

  it('answers 422 naming the parameter at fault', async () => {
    const cases: [string, string][] = [
      ['status=finished', 'status'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['since=yesterday', 'since'],
      ['since=2026-12-06T10:00:00Z&until=2026-12-06T09:00:00Z', 'until'],
      ['colour=red', 'colour'],
      ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
      [`q=${'x'.repeat(201)}`, 'q'],
    ];
    for (const [query, field] of cases) {
      const res = await call('acme', 'GET', `/v1/tasks?${query}`);
      expect({ query, status: res.status, code: res.body.error.code }).toEqual({
        query,
        status: 422,
        code: 'validation_failed',
      });
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    // A cursor of a status listing means nothing to a listing without that status.
    const page = await call('acme', 'GET', '/v1/tasks?status=failed&limit=1');
    const mismatched = await call(
      'acme',
      'GET',
      `/v1/tasks?limit=1&type=echo&cursor=${page.body.nextCursor}`,
    );
    expect(mismatched.status).toBe(422);
  });

  it('moves a task between the status indexes as it runs, and publishes each change', async () => {
    const id = await submit('acme', { type: 'sleep', payload: { ms: 3000 } });
    await eventually(async () =>
      (await list('acme', 'status=running')).some((r) => r.id === id) ? true : undefined,
    );
    expect((await list('acme', 'status=queued')).some((r) => r.id === id)).toBe(false);
    await eventually(
      async () => ((await list('acme', 'status=succeeded')).some((r) => r.id === id) ? true : undefined),
      15_000,
    );
    expect((await list('acme', 'status=running')).some((r) => r.id === id)).toBe(false);
    const seen = await eventually(async () => {
      const mine = events.filter((e) => e.id === id).map((e) => e.status);
      return mine.includes('succeeded') ? mine : undefined;
    });
    // The API's queued write is refused (and so unpublished) when the worker's running landed first.
    expect(seen.join(' ')).toMatch(/^(queued )?running succeeded$/);
    expect(events.find((e) => e.id === id)).toMatchObject({ type: 'sleep', tenant: 'acme' });
    const keyed = events.find((e) => e.id === ids.keyed[0]);
    expect(keyed?.key).toBe('order-1');
  });

  it('skips records that expired, and the sweeper drops their entries', async () => {
    const gone = ids.fail[0]!;
    await redis.del(keys.task(gone));
    expect((await list('acme', 'limit=200')).some((r) => r.id === gone)).toBe(false);
    expect(await redis.zscore(keys.tasksByCreation(), gone)).not.toBeNull();
    const index = new TaskIndex({ url: REDIS_URL, queue });
    try {
      // A full cycle: passes until the sweep wraps (each pass covers 1000 entries of each index).
      expect(await index.sweep()).toBeGreaterThanOrEqual(4);
      for (const idx of [
        keys.tasksByCreation(),
        keys.tasksByStatus('failed'),
        keys.tasksByType('fail'),
        keys.tasksByTenant('acme'),
      ]) {
        expect({ idx, score: await redis.zscore(idx, gone) }).toEqual({ idx, score: null });
      }
      const memory = await index.memory();
      expect(memory.entries).toBeGreaterThan(0);
      expect(memory.bytes).toBeGreaterThan(0);
    } finally {
      await index.close();
    }
  });

  it('shows what a task was submitted with, and runs it again as a new task', async () => {
    const original = ids.keyed[1]!;
    const record = (await call('acme', 'GET', `/v1/tasks/${original}`)).body;
    expect(record).toMatchObject({
      key: 'order-2',
      payload: { k: 'order-2' },
      maxAttempts: 3,
      callbackUrl: null,
    });
    const again = await call('acme', 'POST', `/v1/tasks/${original}/replay`);
    expect(again.status).toBe(202);
    expect(again.body.replayOf).toBe(original);
    expect(again.headers.get('location')).toBe(`/v1/tasks/${again.body.id}`);
    const rerun = await eventually(async () => {
      const res = await call('acme', 'GET', `/v1/tasks/${again.body.id}`);
      return res.body.status === 'succeeded' ? res.body : undefined;
    });
    expect(rerun).toMatchObject({ replayOf: original, result: { k: 'order-2' }, key: 'order-2' });
    // Another tenant's task is not found; an admin re-runs it as its own tenant's.
    expect((await call('acme', 'POST', `/v1/tasks/${ids.globex[0]}/replay`)).status).toBe(404);
    const byAdmin = await call('operator', 'POST', `/v1/tasks/${ids.globex[0]}/replay`);
    expect(byAdmin.status).toBe(202);
    expect((await call('globex', 'GET', `/v1/tasks/${byAdmin.body.id}`)).body.tenant).toBe('globex');
  });

  it('keeps what was submitted even when the worker wrote the record first', async () => {
    // A quick worker's running and succeeded often land before the API's own queued write.
    const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 600 });
    try {
      const base = { id: randomUUID(), type: 'echo', createdAt: new Date(), key: 'late-1' };
      await store.transition({ ...base, status: 'running', attempt: 1, at: new Date() });
      await store.transition({ ...base, status: 'succeeded', attempt: 1, at: new Date(), result: 1 });
      const late = await store.transition({
        ...base,
        status: 'queued',
        attempt: 0,
        at: new Date(),
        spec: { payload: { n: 1 }, maxAttempts: 2 },
      });
      expect(late.applied).toBe(false);
      expect(await store.get(base.id)).toMatchObject({
        status: 'succeeded',
        key: 'late-1',
        spec: { payload: { n: 1 }, maxAttempts: 2 },
      });
      const seen = await eventually(async () => {
        const mine = events.filter((e) => e.id === base.id);
        return mine.length >= 2 ? mine.map((e) => [e.status, e.key]) : undefined;
      });
      expect(seen).toEqual([
        ['running', 'late-1'],
        ['succeeded', 'late-1'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('keeps no payload over 64 KiB in the record, and says so when asked to re-run it', async () => {
    const big = await submit('acme', { type: 'echo', payload: { blob: 'x'.repeat(70 * 1024) } });
    const record = (await call('acme', 'GET', `/v1/tasks/${big}`)).body;
    expect(record.payload).toBeUndefined();
    expect(record.payloadBytes).toBeGreaterThan(70 * 1024);
    const refused = await call('acme', 'POST', `/v1/tasks/${big}/replay`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('payload_not_kept');
  });
});

describe('task listing turned off', () => {
  it('answers 404 listing_off and writes no index', async () => {
    const queue = uniqueQueue();
    const api = await apiFor(queue, { TASK_INDEXES: 'false' });
    const redis = new Redis(REDIS_URL);
    try {
      const submitted = await request(api.url, 'POST', '/v1/tasks', { json: { type: 'echo' } });
      expect(submitted.status).toBe(202);
      const res = await request(api.url, 'GET', '/v1/tasks');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('listing_off');
      expect(await redis.exists(new RedisKeys(queue).tasksByCreation())).toBe(0);
      expect(await redis.exists(new RedisKeys(queue).task(submitted.body.id))).toBe(1);
    } finally {
      redis.disconnect();
      await api.stop();
    }
  });
});
