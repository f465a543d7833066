import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { apiFor, metricValue } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';

const post = (url: string, path: string, json: unknown, headers: Record<string, string> = {}) =>
  request(url, 'POST', path, { json, headers });

/** The one documented error shape, with this code. */
const apiError = (code: string) => ({
  error: { code, message: expect.any(String), details: expect.any(Array) },
});

describe('request limits', () => {
  let api: Awaited<ReturnType<typeof apiFor>>;
  beforeAll(
    async () => (api = await apiFor(uniqueQueue(), { MAX_BODY_BYTES: '2048', BATCH_MAX_TASKS: '3' })),
  );
  afterAll(() => api.stop());

  it('answers 413 payload_too_large for a body over MAX_BODY_BYTES, on every route that takes one', async () => {
    const big = { type: 'echo', payload: 'x'.repeat(4096) };
    for (const path of ['/v1/tasks', '/v1/tasks/batch']) {
      const res = await post(api.url, path, path.endsWith('batch') ? { tasks: [big] } : big);
      expect(res.status).toBe(413);
      expect(res.body).toEqual(apiError('payload_too_large'));
      expect(res.body.error.message).toContain('2048');
    }
    // Just under the limit is fine.
    expect((await post(api.url, '/v1/tasks', { type: 'echo', payload: 'x'.repeat(1900) })).status).toBe(202);
  });

  it('answers 422 for a batch over BATCH_MAX_TASKS', async () => {
    const res = await post(api.url, '/v1/tasks/batch', {
      tasks: Array.from({ length: 4 }, () => ({ type: 'echo' })),
    });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(apiError('validation_failed'));
    expect(res.body.error.details).toEqual([{ field: 'tasks', message: 'must NOT have more than 3 items' }]);
  });

  it.each(['-1', 'abc', '1e3', '', '0x10'])('answers 422 for ?wait=%s', async (wait) => {
    const created = await post(api.url, '/v1/tasks', { type: 'echo' });
    const res = await request(api.url, 'GET', `/v1/tasks/${created.body.id}?wait=${wait}`);
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { field: 'wait', message: expect.stringContaining('capped at 30') },
    ]);
  });

  it('answers 400 bad_request, not 500, for a path with broken percent-encoding', async () => {
    const res = await request(api.url, 'GET', '/v1/tasks/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(res.body).toEqual(apiError('bad_request'));
  });

  it.each([
    ['http://127.0.0.1:8080/hook', 'loopback'],
    ['http://[::1]/hook', 'loopback'],
    ['http://[::ffff:127.0.0.1]/hook', 'loopback'],
    ['http://2130706433/hook', 'loopback'],
    ['http://0x7f.1/hook', 'loopback'],
    ['http://localhost:3000/hook', 'internal host name'],
    ['http://LocalHost./hook', 'internal host name'],
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'internal host name'],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'unique local'],
    ['https://10.0.0.5/hook', 'private'],
    ['https://192.168.1.10/hook', 'private'],
    ['http://100.100.100.200/latest/meta-data/', 'CGNAT'],
    ['http://0.0.0.0:6379/', 'unspecified'],
  ])('refuses callbackUrl %s with 422 naming the field', async (callbackUrl, why) => {
    const res = await post(api.url, '/v1/tasks', { type: 'echo', callbackUrl });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(apiError('validation_failed'));
    expect(res.body.error.details).toEqual([{ field: 'callbackUrl', message: expect.stringContaining(why) }]);
  });

  it('refuses an internal callbackUrl in a batch item in place', async () => {
    const res = await post(api.url, '/v1/tasks/batch', {
      tasks: [
        { type: 'echo', callbackUrl: 'https://hooks.example.com/done' },
        { type: 'echo', callbackUrl: 'http://127.0.0.1:6379/' },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(res.body.results[1].error.details).toEqual([
      { field: 'tasks[1].callbackUrl', message: expect.stringContaining('loopback') },
    ]);
  });

  it('accepts a public host name (the worker checks what it resolves to)', async () => {
    const res = await post(api.url, '/v1/tasks', {
      type: 'echo',
      callbackUrl: 'https://hooks.example.com/done',
    });
    expect(res.status).toBe(202);
  });

  it('accepts what CALLBACK_ALLOW_HOSTS and CALLBACK_ALLOW_CIDRS allow', async () => {
    const allowing = await apiFor(uniqueQueue(), {
      CALLBACK_ALLOW_HOSTS: 'localhost',
      CALLBACK_ALLOW_CIDRS: '127.0.0.0/8,10.0.0.0/8',
    });
    try {
      for (const callbackUrl of ['http://localhost:3000/h', 'http://127.0.0.1:3000/h', 'http://10.1.1.1/h']) {
        expect((await post(allowing.url, '/v1/tasks', { type: 'echo', callbackUrl })).status).toBe(202);
      }
      const res = await post(allowing.url, '/v1/tasks', {
        type: 'echo',
        callbackUrl: 'http://169.254.169.254/',
      });
      expect(res.status).toBe(422);
    } finally {
      await allowing.stop();
    }
  });
});

describe('rate limiting', () => {
  // One key per tenant: the limit is the tenant's (tests/integration/tenancy.test.ts: shared by its keys).
  const KEYS = ['key-a-0123456789abcdef', 'key-b-0123456789abcdef', 'key-c-0123456789abcdef'];
  const bearer = (i: number) => ({ authorization: `Bearer ${KEYS[i]}` });
  const dir = mkdtempSync(join(tmpdir(), 'spillway-rate-'));
  let api: Awaited<ReturnType<typeof apiFor>>;
  beforeAll(async () => {
    const file = join(dir, 'api-keys');
    const tenants = ['a', 'b', 'c'];
    writeFileSync(
      file,
      [
        ...tenants.map((t) => `tenant ${t}`),
        ...tenants.map((t, i) => `key ${t} ${KEYS[i]} tasks:submit,tasks:read`),
      ].join('\n'),
    );
    api = await apiFor(uniqueQueue(), {
      API_KEYS_FILE: file,
      // Slow enough that no test here sees a refill it does not wait for.
      RATE_LIMIT_PER_SECOND: '1',
      RATE_LIMIT_BURST: '3',
    });
  });
  afterAll(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 429 rate_limited with Retry-After once a tenant spent its burst, and keeps tenants apart', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await post(api.url, '/v1/tasks', { type: 'echo' }, bearer(0))).status);
    expect(statuses).toEqual([202, 202, 202]);

    const refused = await post(api.url, '/v1/tasks', { type: 'echo' }, bearer(0));
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual(apiError('rate_limited'));
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await metricValue(api.url, 'spillway_rate_limited_total{tenant="a"}')).toBeGreaterThanOrEqual(1);

    // Another tenant has its own bucket; reads are never limited.
    const other = await post(api.url, '/v1/tasks', { type: 'echo' }, bearer(1));
    expect(other.status).toBe(202);
    expect((await request(api.url, 'GET', `/v1/tasks/${other.body.id}`, { headers: bearer(1) })).status).toBe(
      200,
    );
  });

  it('charges a batch its number of tasks; one bigger than the burst passes on a full bucket and leaves a debt', async () => {
    // Tenant c: a full bucket of 3.
    const batch = (n: number) => ({ tasks: Array.from({ length: n }, () => ({ type: 'echo' })) });
    const first = await post(api.url, '/v1/tasks/batch', batch(5), bearer(2));
    expect(first.status).toBe(202);
    expect(first.body.accepted).toBe(5);
    // 3 - 5 = -2 tokens: a single task needs 3 s of refill.
    const next = await post(api.url, '/v1/tasks', { type: 'echo' }, bearer(2));
    expect(next.status).toBe(429);
    expect(Number(next.headers.get('retry-after'))).toBeGreaterThanOrEqual(2);
  });

  it('charges invalid submissions too', async () => {
    // Tenant b spent 1 of 3 above.
    expect((await post(api.url, '/v1/tasks', { type: 'bad type' }, bearer(1))).status).toBe(422);
    expect((await post(api.url, '/v1/tasks', { nothing: true }, bearer(1))).status).toBe(422);
    expect((await post(api.url, '/v1/tasks', { type: 'echo' }, bearer(1))).status).toBe(429);
  });

  it('limits by client address when auth is off', async () => {
    const open = await apiFor(uniqueQueue(), { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '1' });
    try {
      expect((await post(open.url, '/v1/tasks', { type: 'echo' })).status).toBe(202);
      expect((await post(open.url, '/v1/tasks', { type: 'echo' })).status).toBe(429);
    } finally {
      await open.stop();
    }
  });

  it('is off by default', async () => {
    // What is checked is the absence of a 429; a generous Kafka bound keeps a busy CI machine's
    // slow first send on a fresh topic from turning into a 503 that would say nothing about it.
    const unlimited = await apiFor(uniqueQueue(), { BATCH_MAX_TASKS: '50', PUBLISH_TIMEOUT_MS: '30000' });
    try {
      const batch = { tasks: Array.from({ length: 50 }, () => ({ type: 'echo' })) };
      for (let i = 0; i < 3; i++)
        expect((await post(unlimited.url, '/v1/tasks/batch', batch)).status).toBe(202);
    } finally {
      await unlimited.stop();
    }
  });
});

describe('the task type allow-list (TASK_TYPES)', () => {
  it('refuses types it does not name, but never spillway.ping, which helm test sends', async () => {
    const api = await apiFor(uniqueQueue(), { TASK_TYPES: 'email.send' });
    try {
      expect((await request(api.url, 'POST', '/v1/tasks', { json: { type: 'email.send' } })).status).toBe(
        202,
      );
      expect((await request(api.url, 'POST', '/v1/tasks', { json: { type: 'spillway.ping' } })).status).toBe(
        202,
      );
      const refused = await request(api.url, 'POST', '/v1/tasks', { json: { type: 'echo' } });
      expect(refused.status).toBe(422);
      expect(refused.body.error.details).toEqual([{ field: 'type', message: 'unknown task type "echo"' }]);
    } finally {
      await api.stop();
    }
  });
});

describe('long polls (?wait=N)', () => {
  const KEYS = ['key-a-0123456789abcdef', 'key-b-0123456789abcdef', 'key-c-0123456789abcdef'];
  const bearer = (i: number) => ({ authorization: `Bearer ${KEYS[i]}` });
  let api: Awaited<ReturnType<typeof apiFor>>;
  let id: string;
  // No worker runs for this queue: the task stays queued, so every wait lasts its full time.
  beforeAll(async () => {
    api = await apiFor(uniqueQueue(), {
      API_KEYS: KEYS.join(','),
      LONG_POLL_MAX_PER_CLIENT: '2',
      LONG_POLL_MAX: '3',
    });
    id = (await post(api.url, '/v1/tasks', { type: 'echo' }, bearer(0))).body.id;
  });
  afterAll(() => api.stop());

  const wait = (key: number, seconds = 2) =>
    request(api.url, 'GET', `/v1/tasks/${id}?wait=${seconds}`, { headers: bearer(key) });
  /** Starts polls and gives them time to open their watch (they then wait their full time). */
  const opened = async (polls: Promise<unknown>[]) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return polls;
  };

  it("answers 429 too_many_waits past a client's cap and past the instance's, and a poll without wait still answers", async () => {
    const first = await opened([wait(0), wait(0)]);
    const overClient = await wait(0);
    expect(overClient.status).toBe(429);
    expect(overClient.body).toEqual(apiError('too_many_waits'));
    expect(overClient.body.error.message).toMatch(/this client has 2 long polls open \(at most 2\)/);
    expect(overClient.headers.get('retry-after')).toBe('1');
    expect((await request(api.url, 'GET', `/v1/tasks/${id}`, { headers: bearer(0) })).status).toBe(200);

    // Another client has its own two, until the instance's three are open.
    const second = await opened([wait(1)]);
    const overTotal = await wait(2);
    expect(overTotal.status).toBe(429);
    expect(overTotal.body.error.message).toMatch(/this API instance has 3 long polls open \(at most 3\)/);

    // Places come back as polls end.
    for (const poll of [...first, ...second]) expect(((await poll) as { status: number }).status).toBe(200);
    expect((await wait(0, 1)).status).toBe(200);
  }, 20_000);
});
