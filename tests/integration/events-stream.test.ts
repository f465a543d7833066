import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { RedisKeys } from '../../services/shared/redis/keys';
import type { TaskEventData } from '../../services/shared/task-event-wire';
import { request } from '../helpers/http';
import { componentChecker } from '../helpers/openapi';
import { apiFor, metricValue, workerFor } from '../helpers/services';
import { openEvents, type EventStreamClient } from '../helpers/sse';
import { eventually, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * GET /v1/events on the real API and worker (in-process) against the local Kafka and Redis:
 * what a stream sees, what its filters and its key let through, the admin rates, and the bounds
 * (a reader too slow is cut, a process holds at most EVENTS_MAX_CLIENTS streams).
 */

const key = (name: string) => `${name}-key-0123456789abcdef`;
const KEYS_FILE = [
  'tenant acme',
  'tenant globex',
  `key acme ${key('acme')} tasks:submit,tasks:read`,
  `key globex ${key('globex')} tasks:submit,tasks:read`,
  `key globex ${key('operator')} admin`,
].join('\n');

const PHASE = ['queued', 'running', 'succeeded'];

describe('GET /v1/events', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-events-'));
  const file = join(dir, 'api-keys');
  writeFileSync(file, KEYS_FILE);
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>> | undefined;
  const streams: EventStreamClient[] = [];
  const open = async (query: string, as = 'operator') => {
    const stream = await openEvents(api.url, query, key(as));
    streams.push(stream);
    return stream;
  };
  const submit = async (as: string, tasks: object[]): Promise<string[]> => {
    const res = await request(api.url, 'POST', '/v1/tasks/batch', {
      headers: { authorization: `Bearer ${key(as)}` },
      json: { tasks },
    });
    expect(res.status).toBe(202);
    return (res.body.results as { id: string }[]).map((r) => r.id);
  };
  const startWorker = async () => {
    worker ??= await workerFor(queue, { WORKER_CONCURRENCY: '8' });
  };

  beforeAll(async () => {
    api = await apiFor(queue, { API_KEYS_FILE: file, EVENTS_KEEPALIVE_MS: '300' });
  });
  afterEach(() => {
    for (const stream of streams.splice(0)) stream.close();
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams each task through queued → running → succeeded, in order', async () => {
    const stream = await open('');
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.headers.get('cache-control')).toBe('no-store');
    expect(stream.headers.get('x-accel-buffering')).toBe('no');
    // The worker starts after the submissions, so every task is recorded queued before it runs.
    const ids = await submit('acme', [
      { type: 'echo', payload: 1, key: 'k-1' },
      { type: 'echo', payload: 2 },
      { type: 'echo', payload: 3 },
    ]);
    await startWorker();
    await stream.until(
      () =>
        ids.every((id) => stream.tasks().some((e) => e.id === id && e.status === 'succeeded'))
          ? true
          : undefined,
      'every task succeeded',
    );
    expect(stream.text().startsWith('retry: 2000\n')).toBe(true);
    for (const id of ids) {
      const mine = stream.tasks().filter((e) => e.id === id);
      expect(mine.map((e) => e.status)).toEqual(PHASE);
      const times = mine.map((e) => Date.parse(e.at));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(mine[0]).toMatchObject({ type: 'echo', tenant: 'acme', key: id === ids[0] ? 'k-1' : null });
    }
    const check = componentChecker((await request(api.url, 'GET', '/openapi.json')).body);
    for (const event of stream.tasks()) check('TaskEvent', event);
  });

  it('sends a keep-alive comment when nothing happens', async () => {
    const stream = await open('');
    await stream.until(
      () => (stream.text().includes('\n: keep-alive\n\n') ? true : undefined),
      'a keep-alive',
    );
  });

  it('filters by type, status and key prefix', async () => {
    await startWorker();
    const everything = await open('');
    const filtered = {
      byType: { stream: await open('?type=sleep'), wants: (e: TaskEventData) => e.type === 'sleep' },
      byStatus: {
        stream: await open('?status=running,failed'),
        wants: (e: TaskEventData) => ['running', 'failed'].includes(e.status),
      },
      byKey: { stream: await open('?key=user-'), wants: (e: TaskEventData) => !!e.key?.startsWith('user-') },
    };
    const ids = await submit('acme', [
      { type: 'sleep', payload: { ms: 10 } },
      { type: 'echo', key: 'user-1' },
      { type: 'echo', key: 'order-1' },
      { type: 'fail', key: 'user-2', maxAttempts: 1 },
    ]);
    const ours = (stream: EventStreamClient) => stream.tasks().filter((e) => ids.includes(e.id));
    const finished = (e: TaskEventData) => ['succeeded', 'failed'].includes(e.status);
    await everything.until(
      () => (ours(everything).filter(finished).length === ids.length ? true : undefined),
      'every task finished',
    );
    // Every stream gets the same messages in the same order: a filtered one must show exactly
    // the unfiltered one's events that pass its filter, no more (the wait would not end) and no fewer.
    for (const [name, { stream, wants }] of Object.entries(filtered)) {
      const expected = JSON.stringify(ours(everything).filter(wants));
      await stream.until(() => (JSON.stringify(ours(stream)) === expected ? true : undefined), name);
    }
    const [sleeper, user1, , user2] = ids;
    const statusesOf = (stream: EventStreamClient, id: string | undefined) =>
      ours(stream)
        .filter((e) => e.id === id)
        .map((e) => e.status);
    expect(new Set(ours(filtered.byType.stream).map((e) => e.id))).toEqual(new Set([sleeper]));
    expect(statusesOf(filtered.byType.stream, sleeper)).toContain('succeeded');
    for (const id of ids) expect(statusesOf(filtered.byStatus.stream, id)).toContain('running');
    expect(statusesOf(filtered.byStatus.stream, user2)).toEqual(['running', 'failed']);
    expect(new Set(ours(filtered.byKey.stream).map((e) => e.id))).toEqual(new Set([user1, user2]));
  });

  it("never shows a tenant another tenant's tasks, nor the rates", async () => {
    await startWorker();
    const acme = await open('', 'acme');
    const operator = await open('');
    const succeeded = (stream: EventStreamClient, id: string | undefined) => () =>
      stream.tasks().find((e) => e.id === id && e.status === 'succeeded');
    const [globexTask] = await submit('globex', [{ type: 'echo' }]);
    const [acmeTask] = await submit('acme', [{ type: 'echo' }]);
    await operator.until(succeeded(operator, globexTask), 'the globex task, as admin');
    await operator.until(succeeded(operator, acmeTask), 'the acme task, as admin');
    await operator.until(() => operator.events.find((e) => e.event === 'rates'), 'rates, as admin');
    // A fence: what acme's stream would have been sent before it has arrived once the fence has.
    const [fence] = await submit('acme', [{ type: 'echo' }]);
    await acme.until(succeeded(acme, fence), 'the fence');
    expect(acme.tasks().find((e) => e.id === acmeTask)).toBeDefined();
    expect(acme.tasks().filter((e) => e.tenant !== 'acme')).toEqual([]);
    expect(acme.events.filter((e) => e.event !== 'task')).toEqual([]);

    const elsewhere = await open('?tenant=globex', 'acme');
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.error.code).toBe('tenant_forbidden');
  });

  it('refuses what a stream cannot filter on, naming it, and needs a key', async () => {
    for (const parameter of ['since=2026-01-01T00:00:00Z', 'q=boom', 'cursor=x', 'limit=5']) {
      const res = await open(`?${parameter}`);
      expect(res.status).toBe(422);
      expect(res.body.error.details).toEqual([expect.objectContaining({ field: parameter.split('=')[0] })]);
    }
    expect((await open('?status=nope')).body.error.details[0].field).toBe('status');
    const tasks = await open('?tasks=some');
    expect(tasks.status).toBe(422);
    expect(tasks.body.error.details).toEqual([expect.objectContaining({ field: 'tasks' })]);
    expect((await openEvents(api.url, '')).status).toBe(401);
  });

  it('sends admins the rates once a second, and counts as GET /v1/stats', async () => {
    await startWorker();
    const stream = await open('?type=nothing-matches');
    const rates = () => stream.events.filter((e) => e.event === 'rates').map((e) => JSON.parse(e.data));
    await submit(
      'globex',
      Array.from({ length: 300 }, (_, i) => ({ type: 'echo', payload: i })),
    );
    await stream.until(() => rates().find((r) => r.perSecond.succeeded > 0), 'a rate of successes');
    const stats = async () =>
      (
        await request(api.url, 'GET', '/v1/stats', {
          headers: { authorization: `Bearer ${key('operator')}` },
        })
      ).body.counts;
    // Once the queue is quiet, a reading after GET /v1/stats answered must show the same counts.
    await eventually(
      async () => {
        const before = await stats();
        const seen = rates().length;
        await stream.until(() => (rates().length > seen ? true : undefined), 'the next rates');
        const after = await stats();
        const last = rates().at(-1);
        return JSON.stringify(before) === JSON.stringify(after) &&
          JSON.stringify(last.counts) === JSON.stringify(after)
          ? true
          : undefined;
      },
      30_000,
      'rates counts equal to GET /v1/stats',
    );
    const check = componentChecker((await request(api.url, 'GET', '/openapi.json')).body);
    for (const reading of rates()) check('RatesEvent', reading);
    const intervals = rates()
      .slice(1)
      .map((r) => r.intervalSeconds);
    expect(Math.min(...intervals)).toBeGreaterThan(0.5);
    expect(Math.max(...intervals)).toBeLessThan(5);
    // No task event passed the filter: rates come whatever the filter.
    expect(stream.tasks()).toEqual([]);
  }, 60_000);

  it('tasks=none: a stream of rates that gets no task events during a burst', async () => {
    await startWorker();
    const ratesOnly = await open('?tasks=none');
    const everything = await open('?tasks=all');
    expect([ratesOnly.status, everything.status]).toEqual([200, 200]);
    const ids = await submit(
      'globex',
      Array.from({ length: 50 }, (_, i) => ({ type: 'echo', payload: i })),
    );
    await everything.until(
      () =>
        ids.every((id) => everything.tasks().some((e) => e.id === id && e.status === 'succeeded'))
          ? true
          : undefined,
      'every task succeeded',
    );
    // A fence: rates read after the burst's last event was handed to every stream. Whatever was
    // written to the rates-only stream before them has arrived once they have.
    const fence = Date.now();
    await ratesOnly.until(
      () => ratesOnly.events.find((e) => e.event === 'rates' && Date.parse(JSON.parse(e.data).at) > fence),
      'rates after the burst',
    );
    expect(ratesOnly.tasks()).toEqual([]);
    expect(new Set(ratesOnly.events.map((e) => e.event))).toEqual(new Set(['rates']));
  });
});

describe('GET /v1/events bounds', () => {
  const queue = uniqueQueue();
  const LIMIT = 64 * 1024;
  let api: Awaited<ReturnType<typeof apiFor>>;
  const publisher = new Redis(REDIS_URL);
  const channel = new RedisKeys(queue).taskEvents();
  /** Closed after each test, passed or not, so a failure does not hold places the next test counts. */
  const opened: { close(): void }[] = [];
  const open = async (query = '') => {
    const stream = await openEvents(api.url, query);
    opened.push(stream);
    return stream;
  };

  beforeAll(async () => {
    api = await apiFor(queue, { EVENTS_MAX_CLIENTS: '3', EVENTS_MAX_UNSENT_BYTES: String(LIMIT) });
  });
  afterEach(() => {
    for (const stream of opened.splice(0)) stream.close();
  });
  afterAll(async () => {
    await api?.stop();
    publisher.disconnect();
  });

  /**
   * Transitions as the transition script publishes them (contracts: one message, many lines).
   * Published here rather than by running tasks: the kernel's socket buffers take about 4 MB
   * from a client that does not read before this process holds a byte, and 4 MB of real
   * transitions is some 20,000 tasks, most of a minute on a shared two-core machine.
   */
  const flood = (from: number, lines: number) =>
    publisher.publish(
      channel,
      Array.from(
        { length: lines },
        (_, i) => `flood-${from + i}\tsucceeded\techo\tdefault\tkey-${'x'.repeat(100)}\t${Date.now()}`,
      ).join('\n'),
    );

  it('cuts a client that does not read, while one that reads keeps everything', async () => {
    const reader = await open();
    expect(reader.status).toBe(200);
    const slow = await neverReads(api.url);
    opened.push(slow);
    await eventually(async () =>
      (await metricValue(api.url, 'spillway_events_clients')) === 2 ? true : undefined,
    );

    // A message at a time, each read by the good client before the next: it never falls behind.
    let sent = 0;
    while ((await metricValue(api.url, 'spillway_events_clients_dropped_total')) === 0) {
      expect(sent).toBeLessThan(100_000); // about 25 MB: far past any socket buffer
      await flood(sent, 500);
      sent += 500;
      await reader.until(() => (reader.tasks().length === sent ? true : undefined), `${sent} events`);
    }
    expect(await metricValue(api.url, 'spillway_events_clients')).toBe(1);
    await flood(sent, 1);
    await reader.until(() => reader.tasks().find((e) => e.id === `flood-${sent}`), 'the event after the cut');
    expect(reader.tasks().map((e) => e.id)).toEqual(Array.from({ length: sent + 1 }, (_, i) => `flood-${i}`));
    // The cut client's connection ends, short of what the reading one got.
    expect(await slow.drain()).toBeLessThan(reader.text().length);
  }, 120_000);

  it('answers 503 too_many_streams beyond EVENTS_MAX_CLIENTS, and takes one once a place frees', async () => {
    const streams = [await open(), await open(), await open()];
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
    const refused = await open();
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('too_many_streams');
    expect(refused.headers.get('retry-after')).toBe('5');
    streams.pop()!.close();
    await eventually(async () => ((await open()).status === 200 ? true : undefined));
  });

  it('ends open streams cleanly when the API stops', async () => {
    const gauge = (n: number) => async () =>
      (await metricValue(api.url, 'spillway_events_clients')) === n ? true : undefined;
    // The places of the streams closed after the last test free once the API sees them go.
    await eventually(gauge(0));
    const streams = [await open(), await open('?status=failed')];
    expect(streams.map((s) => s.status)).toEqual([200, 200]);
    expect(await metricValue(api.url, 'spillway_events_clients')).toBe(2);
    const started = Date.now();
    await api.stop();
    await Promise.all(streams.map((s) => s.ended));
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

/** A client that sends GET /v1/events, reads the answer's head, then stops reading. */
async function neverReads(url: string): Promise<{ drain(): Promise<number>; close(): void }> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(`GET /v1/events HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
  let received = 0;
  await new Promise<void>((resolve) =>
    socket.once('data', (chunk: Buffer) => {
      expect(chunk.toString()).toMatch(/^HTTP\/1\.1 200/);
      received += chunk.length;
      resolve();
    }),
  );
  socket.pause();
  return {
    // Reads what is left until the API's side of the connection is gone.
    drain: () =>
      new Promise((resolve) => {
        socket.on('data', (chunk: Buffer) => (received += chunk.length));
        socket.once('close', () => resolve(received));
        socket.once('error', () => undefined);
        socket.resume();
      }),
    close: () => socket.destroy(),
  };
}
