import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisTenantPermits } from '../../services/shared/redis/tenant-permits';
import { request } from '../helpers/http';
import { ServiceProcess } from '../helpers/processes';
import { freePort } from '../helpers/redis-server';
import { apiFor, metricValue, workerFor } from '../helpers/services';
import { eventually, KAFKA_BROKERS, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * A tenant's max-running across the fleet: leases in Redis (RedisTenantPermits), taken by every
 * worker before it runs one of the tenant's tasks, and given back when the task is done or, for a
 * worker killed with SIGKILL, when its leases lapse.
 */

describe('tenant permits in Redis', () => {
  const queue = uniqueQueue();
  const permits = new RedisTenantPermits({ url: REDIS_URL, queue });
  afterAll(() => permits.close());

  it('grants up to the limit, again to a holder it granted, and frees on release or when a lease lapses', async () => {
    await permits.setLimits(new Map([['acme', 2]]));
    expect(await permits.limits()).toEqual(new Map([['acme', 2]]));
    expect(await permits.acquire('acme', 'a', 60_000)).toBe('granted');
    expect(await permits.acquire('acme', 'b', 300)).toBe('granted');
    expect(await permits.acquire('acme', 'c', 60_000)).toBe('full');
    expect(await permits.acquire('acme', 'a', 60_000)).toBe('granted'); // already its own
    expect(await permits.running('acme')).toBe(2);
    // b's lease lapses unrenewed (its worker died): its place comes back.
    await sleep(400);
    expect(await permits.extend('acme', 'b', 300)).toBe(false);
    expect(await permits.acquire('acme', 'c', 60_000)).toBe('granted');
    expect(await permits.extend('acme', 'c', 60_000)).toBe(true);
    await permits.release('acme', 'a');
    expect(await permits.running('acme')).toBe(1);
    // A tenant without a limit records nothing.
    expect(await permits.acquire('other', 'x', 60_000)).toBe('unlimited');
    expect(await permits.running('other')).toBe(0);
    // Replacing the limits drops a tenant's.
    await permits.setLimits(new Map([['acme', 0]]));
    expect(await permits.limits()).toEqual(new Map());
    expect(await permits.acquire('acme', 'd', 60_000)).toBe('unlimited');
  });
});

describe("a tenant's max-running across two workers", () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-running-'));
  const file = join(dir, 'api-keys');
  const queue = uniqueQueue();
  const permits = new RedisTenantPermits({ url: REDIS_URL, queue });
  const key = (tenant: string) => `${tenant}-key-0123456789abcdef`;
  let api: Awaited<ReturnType<typeof apiFor>>;
  const workers: Awaited<ReturnType<typeof workerFor>>[] = [];

  const submit = async (tenant: string, tasks: object[]): Promise<string[]> => {
    const res = await request(api.url, 'POST', '/v1/tasks/batch', {
      headers: { authorization: `Bearer ${key(tenant)}` },
      json: { tasks },
    });
    expect(res.status).toBe(202);
    return res.body.results.map((r: { id: string }) => r.id);
  };
  const statusesOf = async (tenant: string, ids: string[]) =>
    Promise.all(
      ids.map(
        async (id) =>
          (
            await request(api.url, 'GET', `/v1/tasks/${id}`, {
              headers: { authorization: `Bearer ${key(tenant)}` },
            })
          ).body.status as string,
      ),
    );

  beforeAll(async () => {
    writeFileSync(
      file,
      [
        'tenant capped max-running=2',
        'tenant free',
        ...['capped', 'free'].map((t) => `key ${t} ${key(t)} tasks:submit,tasks:read`),
      ].join('\n'),
    );
    api = await apiFor(queue, { API_KEYS_FILE: file, API_KEYS_RELOAD_MS: '100', TENANT_MAX_RUNNING: '7' });
    for (let i = 0; i < 2; i++) workers.push(await workerFor(queue, { WORKER_CONCURRENCY: '8' }));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await api?.stop();
    await permits.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never runs more than its limit at once, fleet-wide, while another tenant uses every slot it can', async () => {
    const sleepy = Array.from({ length: 10 }, () => ({ type: 'sleep', payload: { ms: 300 } }));
    const capped = await submit('capped', sleepy);
    const free = await submit('free', sleepy);
    let cappedMax = 0;
    let freeMax = 0;
    for (;;) {
      const [c, f] = await Promise.all([statusesOf('capped', capped), statusesOf('free', free)]);
      const running = (statuses: string[]) => statuses.filter((s) => s === 'running').length;
      cappedMax = Math.max(cappedMax, running(c), await permits.running('capped'));
      freeMax = Math.max(freeMax, running(f));
      if ([...c, ...f].every((s) => s === 'succeeded')) break;
      await sleep(20);
    }
    // Its limit, fully used and never passed; the other tenant ran on the slots it left.
    expect(cappedMax).toBe(2);
    expect(freeMax).toBeGreaterThan(2);
    const waits = await Promise.all(
      workers.map((w) => metricValue(w.url, 'spillway_tenant_running_limit_waits_total{tenant="capped"}')),
    );
    expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(await permits.running('capped')).toBe(0);
  }, 60_000);

  it('publishes the limits the keys file sets, TENANT_MAX_RUNNING for the others, again on each change', async () => {
    expect(await permits.limits()).toEqual(
      new Map([
        ['default', 7],
        ['capped', 2],
        ['free', 7],
      ]),
    );
    writeFileSync(file, `tenant capped max-running=3\nkey capped ${key('capped')} tasks:submit\n`);
    await eventually(async () => ((await permits.limits()).get('capped') === 3 ? true : undefined), 5000);
    expect(await permits.limits()).toEqual(
      new Map([
        ['default', 7],
        ['capped', 3],
      ]),
    );
  });
});

describe("a worker killed with SIGKILL while running a capped tenant's tasks", () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-running-kill-'));
  const file = join(dir, 'api-keys');
  const queue = uniqueQueue();
  const permits = new RedisTenantPermits({ url: REDIS_URL, queue });
  const key = 'capped-key-0123456789abcdef';
  const LEASE_MS = 2000;
  const env = {
    SPILLWAY_QUEUE: queue,
    KAFKA_BROKERS,
    REDIS_URL,
    KAFKA_TASK_PARTITIONS: '3',
    TENANT_LEASE_MS: String(LEASE_MS),
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    LOG_LEVEL: 'warn',
  };
  let api: Awaited<ReturnType<typeof apiFor>>;
  let killed: ServiceProcess | undefined;
  let survivor: Awaited<ReturnType<typeof workerFor>> | undefined;

  beforeAll(async () => {
    writeFileSync(file, `tenant capped max-running=2\nkey capped ${key} tasks:submit,tasks:read\n`);
    api = await apiFor(queue, { API_KEYS_FILE: file });
  });
  afterAll(async () => {
    await killed?.kill();
    await survivor?.stop();
    await api?.stop();
    await permits.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives its places back within the lease, and the tasks still run to the end', async () => {
    killed = new ServiceProcess('worker', await freePort(), env);
    await killed.ready();
    const res = await request(api.url, 'POST', '/v1/tasks/batch', {
      headers: { authorization: `Bearer ${key}` },
      json: { tasks: [1, 2].map(() => ({ type: 'sleep', payload: { ms: 8000 } })) },
    });
    expect(res.status).toBe(202);
    await eventually(async () => ((await permits.running('capped')) === 2 ? true : undefined), 20_000);
    await killed.kill();
    const killedAt = Date.now();
    await eventually(async () => ((await permits.running('capped')) === 0 ? true : undefined), 10_000);
    // Within the lease, and the 100 ms of eventually's polling.
    expect(Date.now() - killedAt).toBeLessThanOrEqual(LEASE_MS + 500);

    survivor = await workerFor(queue, {
      TENANT_LEASE_MS: String(LEASE_MS),
      KAFKA_SESSION_TIMEOUT_MS: '6000',
    });
    const ids: string[] = res.body.results.map((r: { id: string }) => r.id);
    await eventually(
      async () => {
        const statuses = await Promise.all(
          ids.map(
            async (id) =>
              (
                await request(api.url, 'GET', `/v1/tasks/${id}`, {
                  headers: { authorization: `Bearer ${key}` },
                })
              ).body.status,
          ),
        );
        return statuses.every((s) => s === 'succeeded') ? true : undefined;
      },
      60_000,
      'both tasks succeeded on the surviving worker',
    );
  }, 120_000);
});
