import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { request, type Reply } from '../helpers/http';
import { apiFor, metricValue, workerFor } from '../helpers/services';
import { eventually, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * A tenant's maximum queued, on the real API and worker: the count of its unfinished tasks that
 * the transitions keep in Redis, the 429 above it, and the per-tenant metrics.
 */

const key = (tenant: string) => `${tenant}-key-0123456789abcdef`;
const ALL = 'tasks:submit,tasks:read,tasks:cancel';

describe("a tenant's maximum queued", () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-tenant-limits-'));
  const file = join(dir, 'api-keys');
  const queue = uniqueQueue();
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>>;

  const call = (tenant: string, method: string, path: string, json?: unknown): Promise<Reply> =>
    request(api.url, method, path, {
      headers: { authorization: `Bearer ${key(tenant)}` },
      ...(json !== undefined && { json }),
    });
  /** tiny's scheduled tasks, in the order submitted. */
  const tinyTasks: string[] = [];
  /** A task that stays scheduled (an hour ahead): open until cancelled. */
  const later = { type: 'echo', delayMs: 3_600_000 };

  beforeAll(async () => {
    writeFileSync(
      file,
      [
        'tenant tiny max-queued=3',
        'tenant roomy',
        'tenant free max-queued=0',
        ...['tiny', 'roomy', 'free'].map((t) => `key ${t} ${key(t)} ${ALL}`),
      ].join('\n'),
    );
    // The default for tenants without their own: 5 (free's 0 is no limit).
    api = await apiFor(queue, { API_KEYS_FILE: file, TENANT_MAX_QUEUED: '5' });
    worker = await workerFor(queue);
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("counts each tenant's unfinished tasks, and none once they finished", async () => {
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push((await call('roomy', 'POST', '/v1/tasks', later)).body.id);
    const batch = await call('roomy', 'POST', '/v1/tasks/batch', {
      tasks: [{ type: 'echo' }, { type: 'fail', maxAttempts: 1 }],
    });
    expect(batch.status).toBe(202);
    // The two scheduled stay open; the echo succeeds and the fail fails: both leave the count.
    await eventually(async () => ((await store.openTasks('roomy')) === 2 ? true : undefined), 30_000);
    expect(await call('roomy', 'DELETE', `/v1/tasks/${ids[0]}`)).toMatchObject({ status: 200 });
    expect(await store.openTasks('roomy')).toBe(1);
    expect(await store.openTasks('tiny')).toBe(0);
    expect(await metricValue(api.url, 'spillway_tenant_open_tasks{tenant="roomy"}')).toBe(1);
    // Counted by tenant on both sides.
    expect(
      await metricValue(
        api.url,
        'spillway_tasks_enqueued_total{type="echo",outcome="accepted",tenant="roomy"}',
      ),
    ).toBe(3);
    expect(
      await metricValue(
        worker.url,
        'spillway_tasks_processed_total{type="echo",outcome="succeeded",tenant="roomy"}',
      ),
    ).toBe(1);
    expect(await metricValue(worker.url, 'spillway_tenant_queue_wait_seconds_count{tenant="roomy"}')).toBe(2);
  });

  it('refuses submissions with 429 tenant_queue_full while the tenant has its maximum, and only it', async () => {
    for (let i = 0; i < 3; i++) {
      const accepted = await call('tiny', 'POST', '/v1/tasks', later);
      expect(accepted.status).toBe(202);
      tinyTasks.push(accepted.body.id);
    }
    const full = await call('tiny', 'POST', '/v1/tasks', later);
    expect(full.status).toBe(429);
    expect(full.body.error).toEqual({
      code: 'tenant_queue_full',
      message: 'tenant "tiny" has 3 unfinished tasks, its maximum queued is 3; retry once some finish',
      details: [],
    });
    expect(full.headers.get('retry-after')).toBe('5');
    expect((await call('tiny', 'POST', '/v1/tasks/batch', { tasks: [later] })).status).toBe(429);
    expect(await metricValue(api.url, 'spillway_tenant_queue_full_total{tenant="tiny"}')).toBe(2);
    // Another tenant is not affected.
    expect((await call('roomy', 'POST', '/v1/tasks', later)).status).toBe(202);
  });

  it('accepts again once one finishes', async () => {
    const open = await call('tiny', 'POST', '/v1/tasks', later);
    expect(open.status).toBe(429);
    expect((await call('tiny', 'DELETE', `/v1/tasks/${tinyTasks[0]}`)).status).toBe(200);
    // The API reads a tenant's count at most every 100 ms: within moments, not necessarily at once.
    await eventually(
      async () => ((await call('tiny', 'POST', '/v1/tasks', later)).status === 202 ? true : undefined),
      2000,
    );
  });

  it('applies TENANT_MAX_QUEUED to tenants without their own, and max-queued=0 is no limit', async () => {
    // roomy has 2 open from above: 3 more reach the default of 5.
    for (let i = 0; i < 3; i++) expect((await call('roomy', 'POST', '/v1/tasks', later)).status).toBe(202);
    expect((await call('roomy', 'POST', '/v1/tasks', later)).status).toBe(429);
    for (let i = 0; i < 8; i++) expect((await call('free', 'POST', '/v1/tasks', later)).status).toBe(202);
  });
});
