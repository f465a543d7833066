import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type Reply } from '../helpers/http';
import { kafkaNames } from '../../services/shared/kafka/names';
import { apiFor, workerFor } from '../helpers/services';
import { publishTasks, taskMessage } from '../helpers/tasks';
import { eventually, uniqueQueue } from '../helpers/stack';

/**
 * Tenants and scopes on the real API and worker: every route checks its scope, and a tenant sees,
 * cancels and replays only its own tasks and dead letters (another's are not found).
 */

const key = (name: string) => `${name}-key-0123456789abcdef`;
const SCOPED = ['tasks:submit', 'tasks:read', 'tasks:cancel', 'dead-letters:read', 'dead-letters:replay'];
const EVERY_SCOPE_BUT_ADMIN = SCOPED.join(',');

const KEYS_FILE = [
  'tenant acme',
  'tenant globex',
  'tenant slow rate=0.01 burst=2',
  `key acme ${key('acme')} ${EVERY_SCOPE_BUT_ADMIN}`,
  `key acme ${key('acme-second')} ${EVERY_SCOPE_BUT_ADMIN}`,
  `key globex ${key('globex')} ${EVERY_SCOPE_BUT_ADMIN}`,
  ...SCOPED.map((scope) => `key acme ${key(`only-${scope.replace(':', '-')}`)} ${scope}`),
  `key globex ${key('operator')} admin`,
  `key slow ${key('slow-1')} tasks:submit`,
  `key slow ${key('slow-2')} tasks:submit`,
].join('\n');

describe('tenants and scopes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-tenancy-'));
  const file = join(dir, 'api-keys');
  writeFileSync(file, KEYS_FILE);
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>>;
  /** A task of each tenant, and a dead letter of each (a `fail` task with one attempt). */
  const tasks: Record<string, string> = {};
  const deadLetters: Record<string, string> = {};

  const call = (as: string, method: string, path: string, json?: unknown, headers = {}): Promise<Reply> =>
    request(api.url, method, path, {
      headers: { authorization: `Bearer ${key(as)}`, ...headers },
      ...(json !== undefined && { json }),
    });
  const submitAs = async (as: string, body: object) => {
    const res = await call(as, 'POST', '/v1/tasks', body);
    expect(res.status).toBe(202);
    return res.body.id as string;
  };

  beforeAll(async () => {
    // Callbacks to loopback allowed: each dead letter's callbackUrl stands for a token-bearing hook.
    const callbacks = { CALLBACK_ALLOW_CIDRS: '127.0.0.0/8' };
    api = await apiFor(queue, { API_KEYS_FILE: file, RATE_LIMIT_PER_SECOND: '0', ...callbacks });
    worker = await workerFor(queue, { WORKER_CONCURRENCY: '4', ...callbacks });
    for (const tenant of ['acme', 'globex']) {
      // Far in the future: it stays scheduled, so it can be read and cancelled.
      tasks[tenant] = await submitAs(tenant, { type: 'echo', delayMs: 3_600_000, key: 'user-42' });
      deadLetters[tenant] = await submitAs(tenant, {
        type: 'fail',
        maxAttempts: 1,
        callbackUrl: `http://127.0.0.1:9/${tenant}-secret-token`,
      });
    }
    await eventually(async () => {
      const page = await call('operator', 'GET', '/v1/dead-letters');
      return page.body.items.length === 2 ? true : undefined;
    }, 30_000);
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('each route needs its scope', () => {
    // Paths are functions: the ids exist only once beforeAll ran.
    const routes: { scope: string; method: string; path: () => string; json?: unknown }[] = [
      { scope: 'tasks:submit', method: 'POST', path: () => '/v1/tasks', json: { type: 'echo' } },
      {
        scope: 'tasks:submit',
        method: 'POST',
        path: () => '/v1/tasks/batch',
        json: { tasks: [{ type: 'echo' }] },
      },
      { scope: 'tasks:read', method: 'GET', path: () => `/v1/tasks/${tasks.acme}` },
      { scope: 'tasks:cancel', method: 'DELETE', path: () => `/v1/tasks/${crypto.randomUUID()}` },
      { scope: 'dead-letters:read', method: 'GET', path: () => '/v1/dead-letters' },
      {
        scope: 'dead-letters:replay',
        method: 'POST',
        path: () => `/v1/dead-letters/${crypto.randomUUID()}/replay`,
      },
      { scope: 'admin', method: 'POST', path: () => '/v1/dead-letters/rebuild' },
      { scope: 'admin', method: 'GET', path: () => '/v1/stats' },
      { scope: 'admin', method: 'GET', path: () => '/v1/fleet' },
    ];
    const label = (method: string, path: string) =>
      `${method} ${path.replace(/[0-9a-f-]{36}|undefined/, ':id')}`;
    const cases = routes.flatMap((route) =>
      SCOPED.map((held) => ({ ...route, held, label: label(route.method, route.path()) })),
    );

    it.each(cases)('$label with only $held', async ({ scope, method, path, json, held }) => {
      const res = await call(`only-${held.replace(':', '-')}`, method, path(), json);
      if (held === scope) {
        // Past the scope check: whatever the route itself answers (404 for the unknown ids).
        expect(res.status).not.toBe(403);
        expect(res.status).toBeLessThan(500);
      } else {
        expect(res.status).toBe(403);
        expect(res.body.error).toEqual({
          code: 'missing_scope',
          message: `this API key lacks the scope "${scope}"`,
          details: [{ field: 'authorization', message: expect.stringContaining(`"${scope}"`) }],
        });
        expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      }
    });

    it('lets admin through every route', async () => {
      const refused = [];
      for (const { method, path, json } of routes) {
        const res = await call('operator', method, path(), json);
        if (res.status === 403 || res.status >= 500) refused.push(`${method} ${path()}: ${res.status}`);
      }
      expect(refused).toEqual([]);
    });
  });

  describe("a tenant's own and another's", () => {
    it("reads its own task, with its tenant; another tenant's is not found", async () => {
      const own = await call('acme', 'GET', `/v1/tasks/${tasks.acme}`);
      expect(own.status).toBe(200);
      expect(own.body).toMatchObject({ id: tasks.acme, tenant: 'acme', status: 'scheduled' });
      for (const path of [`/v1/tasks/${tasks.globex}`, `/v1/tasks/${tasks.globex}?wait=1`]) {
        const other = await call('acme', 'GET', path);
        expect(other.status).toBe(404);
        // Exactly what an id that never existed gets: nothing tells that it does.
        expect(other.body.error).toEqual({
          code: 'task_not_found',
          message: `no task with id "${tasks.globex}"`,
          details: [],
        });
      }
    });

    it("does not cancel another tenant's task, and cancels its own", async () => {
      const other = await call('globex', 'DELETE', `/v1/tasks/${tasks.acme}`);
      expect(other.status).toBe(404);
      expect((await call('acme', 'GET', `/v1/tasks/${tasks.acme}`)).body.status).toBe('scheduled');
      const own = await call('acme', 'DELETE', `/v1/tasks/${tasks.acme}`);
      expect(own.status).toBe(200);
      expect(own.body).toMatchObject({ status: 'cancelled', tenant: 'acme' });
    });

    it('lists only its own dead letters, callbackUrl included; admin lists all', async () => {
      const acme = await call('acme', 'GET', '/v1/dead-letters');
      expect(acme.body.items.map((d: { id: string }) => d.id)).toEqual([deadLetters.acme]);
      expect(acme.body.items[0].task).toMatchObject({
        tenant: 'acme',
        callbackUrl: 'http://127.0.0.1:9/acme-secret-token',
      });
      expect(JSON.stringify(acme.body)).not.toContain('globex-secret-token');
      const all = await call('operator', 'GET', '/v1/dead-letters');
      expect(all.body.items.map((d: { id: string }) => d.id).sort()).toEqual(
        [deadLetters.acme, deadLetters.globex].sort(),
      );
    });

    it("replays its own dead letter as its own task; another's is not found", async () => {
      const other = await call('acme', 'POST', `/v1/dead-letters/${deadLetters.globex}/replay`);
      expect(other.status).toBe(404);
      expect(other.body.error.code).toBe('dead_letter_not_found');
      // An admin replays it for its tenant: the new task is globex's, not the operator's.
      const replay = await call('operator', 'POST', `/v1/dead-letters/${deadLetters.globex}/replay`);
      expect(replay.status).toBe(202);
      const task = await call('globex', 'GET', `/v1/tasks/${replay.body.id}`);
      expect(task.body.tenant).toBe('globex');
      expect((await call('acme', 'GET', `/v1/tasks/${replay.body.id}`)).status).toBe(404);
    });
  });

  it("keeps the tenant of a task whose record a worker created (the API's write lost)", async () => {
    const message = taskMessage('echo', 'hi', { tenant: 'globex', maxAttempts: 1 });
    await publishTasks(kafkaNames(queue).tasksTopic, [message]);
    const done = await eventually(async () => {
      const res = await call('globex', 'GET', `/v1/tasks/${message.id}`);
      return res.body.status === 'succeeded' ? res : undefined;
    }, 30_000);
    expect(done.body.tenant).toBe('globex');
    expect((await call('acme', 'GET', `/v1/tasks/${message.id}`)).status).toBe(404);
  });

  it("shares Idempotency-Keys among a tenant's keys, never across tenants", async () => {
    const body = { type: 'echo', payload: 'once' };
    const headers = { 'idempotency-key': 'order-1' };
    const first = await call('acme', 'POST', '/v1/tasks', body, headers);
    const again = await call('acme-second', 'POST', '/v1/tasks', body, headers);
    const elsewhere = await call('globex', 'POST', '/v1/tasks', body, headers);
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(elsewhere.status).toBe(202);
    expect(elsewhere.body.id).not.toBe(first.body.id);
    expect((await call('globex', 'GET', `/v1/tasks/${elsewhere.body.id}`)).body.tenant).toBe('globex');
  });

  it("charges every key of a tenant to the tenant's own rate, and no other tenant", async () => {
    // slow: 2 at once, then one per 100 s, whichever of its keys submits; the API's default: no limit.
    const statuses = [];
    for (const as of ['slow-1', 'slow-2', 'slow-1', 'slow-2']) {
      statuses.push((await call(as, 'POST', '/v1/tasks', { type: 'echo' })).status);
    }
    expect(statuses).toEqual([202, 202, 429, 429]);
    const limited = await call('slow-2', 'POST', '/v1/tasks', { type: 'echo' });
    expect(limited.status).toBe(429);
    expect(limited.body.error.message).toMatch(/too many submissions for this tenant; retry in \d+ s/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(50);
    for (let i = 0; i < 5; i++)
      expect((await call('globex', 'POST', '/v1/tasks', { type: 'echo' })).status).toBe(202);
  });
});
