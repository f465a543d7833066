import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type Reply } from '../helpers/http';
import { componentChecker } from '../helpers/openapi';
import { apiFor, metricValue } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';

/**
 * The schedule routes on the real API and Redis: create, read, list with fire times, pause,
 * resume, change and delete; tenants see only their own schedules; bad bodies are 422 naming
 * the field. Firing is tests/integration/schedule-ticks.test.ts's.
 */

const key = (name: string) => `${name}-key-0123456789abcdef`;
const KEYS_FILE = [
  'tenant acme',
  'tenant globex',
  `key acme ${key('acme')} tasks:submit,tasks:read`,
  `key acme ${key('acme-reader')} tasks:read`,
  `key globex ${key('globex')} tasks:submit,tasks:read`,
  `key globex ${key('operator')} admin`,
].join('\n');

const DAILY_IN_BERLIN = {
  cron: '0 9 * * *',
  timeZone: 'Europe/Berlin',
  task: { type: 'echo', payload: { a: 1 } },
};

describe('schedule routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-schedules-'));
  const file = join(dir, 'api-keys');
  writeFileSync(file, KEYS_FILE);
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;

  const call = (as: string, method: string, path: string, json?: unknown): Promise<Reply> =>
    request(api.url, method, path, {
      headers: { authorization: `Bearer ${key(as)}` },
      ...(json !== undefined && { json }),
    });
  const create = async (as: string, body: object) => {
    const res = await call(as, 'POST', '/v1/schedules', body);
    expect(res.status).toBe(201);
    return res.body;
  };

  beforeAll(async () => {
    api = await apiFor(queue, { API_KEYS_FILE: file });
  });
  afterAll(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a cron schedule in a time zone and lists its next five fire times', async () => {
    const created = await create('acme', { ...DAILY_IN_BERLIN, missed: 'catch-up', maxCatchUp: 3 });
    expect(created).toMatchObject({
      tenant: 'acme',
      state: 'active',
      cron: '0 9 * * *',
      timeZone: 'Europe/Berlin',
      intervalMs: null,
      task: { type: 'echo', payload: { a: 1 }, maxAttempts: 3 },
      missed: 'catch-up',
      maxCatchUp: 3,
      lastTick: null,
    });
    expect(created.nextFireTimes).toHaveLength(5);
    for (const time of created.nextFireTimes as string[]) {
      // 09:00 on the wall clock in Berlin, whichever offset the day has.
      const local = new Date(time).toLocaleTimeString('en-GB', { timeZone: 'Europe/Berlin' });
      expect(local).toBe('09:00:00');
      expect(Date.parse(time)).toBeGreaterThan(Date.now());
    }
    const got = await call('acme', 'GET', `/v1/schedules/${created.id}`);
    expect(got).toMatchObject({
      status: 200,
      body: { id: created.id, nextFireTimes: created.nextFireTimes },
    });
    const listed = await call('acme', 'GET', '/v1/schedules');
    expect(listed.body.items.map((s: { id: string }) => s.id)).toContain(created.id);
  });

  it('creates an interval schedule whose fire times are one interval apart from now', async () => {
    const before = Date.now();
    const created = await create('acme', { intervalMs: 60_000, task: { type: 'echo', priority: 'high' } });
    expect(created).toMatchObject({ intervalMs: 60_000, cron: null, timeZone: null, missed: 'skip' });
    expect(created.task).toEqual({ type: 'echo', payload: null, maxAttempts: 3, priority: 'high' });
    const times = (created.nextFireTimes as string[]).map(Date.parse);
    expect(times[0]! - before).toBeGreaterThanOrEqual(60_000);
    expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual([60_000, 60_000, 60_000, 60_000]);
  });

  it('pauses, resumes, changes and deletes a schedule', async () => {
    const { id } = await create('acme', DAILY_IN_BERLIN);
    const paused = await call('acme', 'PATCH', `/v1/schedules/${id}`, { paused: true });
    expect(paused).toMatchObject({ status: 200, body: { state: 'paused', nextFireTimes: [] } });
    expect((await call('acme', 'GET', `/v1/schedules/${id}`)).body.state).toBe('paused');

    const resumed = await call('acme', 'PATCH', `/v1/schedules/${id}`, { paused: false });
    expect(resumed.body).toMatchObject({ state: 'active' });
    expect(resumed.body.nextFireTimes).toHaveLength(5);

    const changed = await call('acme', 'PATCH', `/v1/schedules/${id}`, {
      intervalMs: 5000,
      task: { type: 'sleep', payload: { ms: 1 } },
      missed: 'catch-up',
    });
    expect(changed.body).toMatchObject({
      cron: null,
      timeZone: null,
      intervalMs: 5000,
      missed: 'catch-up',
      task: { type: 'sleep', payload: { ms: 1 } },
    });
    const back = await call('acme', 'PATCH', `/v1/schedules/${id}`, { cron: '*/5 * * * *' });
    expect(back.body).toMatchObject({ cron: '*/5 * * * *', timeZone: 'UTC', intervalMs: null });
    const zoned = await call('acme', 'PATCH', `/v1/schedules/${id}`, { timeZone: 'Asia/Tokyo' });
    expect(zoned.body).toMatchObject({ cron: '*/5 * * * *', timeZone: 'Asia/Tokyo' });

    expect((await call('acme', 'DELETE', `/v1/schedules/${id}`)).status).toBe(204);
    expect((await call('acme', 'GET', `/v1/schedules/${id}`)).body.error.code).toBe('schedule_not_found');
    expect((await call('acme', 'DELETE', `/v1/schedules/${id}`)).status).toBe(404);
    expect((await call('acme', 'PATCH', `/v1/schedules/${id}`, { paused: true })).status).toBe(404);
  });

  it("keeps each tenant to its own schedules; admin sees every tenant's", async () => {
    const { id } = await create('acme', DAILY_IN_BERLIN);
    for (const [method, body] of [['GET'], ['PATCH', { paused: true }], ['DELETE']] as const) {
      const res = await call('globex', method, `/v1/schedules/${id}`, body);
      expect(res).toMatchObject({ status: 404, body: { error: { code: 'schedule_not_found' } } });
    }
    const globexList = await call('globex', 'GET', '/v1/schedules');
    expect(globexList.body.items.map((s: { id: string }) => s.id)).not.toContain(id);
    expect(globexList.body.items.every((s: { tenant: string }) => s.tenant === 'globex')).toBe(true);
    // Untouched by globex's attempts.
    expect((await call('acme', 'GET', `/v1/schedules/${id}`)).body.state).toBe('active');

    const { id: globexId } = await create('globex', DAILY_IN_BERLIN);
    const everyone = await call('operator', 'GET', '/v1/schedules');
    const ids = everyone.body.items.map((s: { id: string }) => s.id);
    expect(ids).toEqual(expect.arrayContaining([id, globexId]));
    expect((await call('operator', 'GET', `/v1/schedules/${id}`)).body.tenant).toBe('acme');
  });

  it('asks tasks:submit to create or change and tasks:read to read', async () => {
    const { id } = await create('acme', DAILY_IN_BERLIN);
    expect((await call('acme-reader', 'GET', `/v1/schedules/${id}`)).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/v1/schedules', DAILY_IN_BERLIN],
      ['PATCH', `/v1/schedules/${id}`, { paused: true }],
      ['DELETE', `/v1/schedules/${id}`, undefined],
    ] as const) {
      const res = await call('acme-reader', method, path, body);
      expect(res).toMatchObject({ status: 403, body: { error: { code: 'missing_scope' } } });
    }
  });

  it.each([
    ['neither cron nor intervalMs', { task: { type: 'echo' } }, 'cron'],
    [
      'both cron and intervalMs',
      { cron: '* * * * *', intervalMs: 60_000, task: { type: 'echo' } },
      'intervalMs',
    ],
    ['a cron field out of range', { cron: '61 * * * *', task: { type: 'echo' } }, 'cron'],
    ['a cron that never fires', { cron: '0 0 30 2 *', task: { type: 'echo' } }, 'cron'],
    [
      'an unknown time zone',
      { cron: '* * * * *', timeZone: 'Mars/Olympus', task: { type: 'echo' } },
      'timeZone',
    ],
    [
      'a time zone with an interval',
      { intervalMs: 60_000, timeZone: 'UTC', task: { type: 'echo' } },
      'timeZone',
    ],
    ['an interval under a second', { intervalMs: 999, task: { type: 'echo' } }, 'intervalMs'],
    ['no task', { cron: '* * * * *' }, 'task'],
    ['a task without a type', { cron: '* * * * *', task: { payload: 1 } }, 'task.type'],
    ['a bad task type', { cron: '* * * * *', task: { type: 'no spaces' } }, 'task.type'],
    ['a task with delayMs', { cron: '* * * * *', task: { type: 'echo', delayMs: 5 } }, 'task.delayMs'],
    [
      'a task with maxAttempts 0',
      { cron: '* * * * *', task: { type: 'echo', maxAttempts: 0 } },
      'task.maxAttempts',
    ],
    ['an unknown policy', { cron: '* * * * *', missed: 'all', task: { type: 'echo' } }, 'missed'],
    ['a catch-up bound of 0', { cron: '* * * * *', maxCatchUp: 0, task: { type: 'echo' } }, 'maxCatchUp'],
    ['an unknown field', { cron: '* * * * *', every: 5, task: { type: 'echo' } }, 'every'],
  ])('refuses %s with 422 naming the field', async (_what, body, field) => {
    const res = await call('acme', 'POST', '/v1/schedules', body);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: { field?: string }) => d.field)).toContain(field);
  });

  it('refuses a bad change with 422 and leaves the schedule as it was', async () => {
    const { id } = await create('acme', DAILY_IN_BERLIN);
    for (const [body, field] of [
      [{ cron: 'every day' }, 'cron'],
      [{ timeZone: 'Nowhere/Land' }, 'timeZone'],
      [{ task: { type: 'echo', runAt: '2030-01-01T00:00:00Z' } }, 'task.runAt'],
      [{ paused: 'yes' }, 'paused'],
    ] as const) {
      const res = await call('acme', 'PATCH', `/v1/schedules/${id}`, body);
      expect(res.status).toBe(422);
      expect(res.body.error.details.map((d: { field?: string }) => d.field)).toContain(field);
    }
    expect((await call('acme', 'PATCH', `/v1/schedules/${id}`, {})).status).toBe(422);
    const now = (await call('acme', 'GET', `/v1/schedules/${id}`)).body;
    expect(now).toMatchObject({ cron: '0 9 * * *', timeZone: 'Europe/Berlin', task: DAILY_IN_BERLIN.task });
  });

  it('answers with the bodies its OpenAPI document describes', async () => {
    const doc = (await request(api.url, 'GET', '/openapi.json')).body;
    const check = componentChecker(doc);
    const body = { ...DAILY_IN_BERLIN, missed: 'catch-up', maxCatchUp: 2 };
    check('ScheduleCreate', body);
    const created = await create('acme', body);
    check('Schedule', created);
    check('SchedulePatch', { paused: true });
    check('Schedule', (await call('acme', 'PATCH', `/v1/schedules/${created.id}`, { paused: true })).body);
    check('ScheduleList', (await call('acme', 'GET', '/v1/schedules')).body);
    check('Error', (await call('acme', 'POST', '/v1/schedules', {})).body);
  });

  it('counts schedules by state on /metrics', async () => {
    const { id } = await create('globex', DAILY_IN_BERLIN);
    await call('globex', 'PATCH', `/v1/schedules/${id}`, { paused: true });
    const listed = (await call('operator', 'GET', '/v1/schedules')).body.items as { state: string }[];
    const paused = listed.filter((s) => s.state === 'paused').length;
    expect(await metricValue(api.url, 'spillway_schedules{state="paused"}')).toBe(paused);
    expect(await metricValue(api.url, 'spillway_schedules{state="active"}')).toBe(listed.length - paused);
  });
});
