import Redis from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeadLetter } from '../../services/shared/dead-letter';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { RedisKeys } from '../../services/shared/redis/keys';
import { deadLetter, poisonLetter } from '../helpers/dead-letters';
import { request, type Reply } from '../helpers/http';
import { deleteMatching } from '../helpers/redis-keys';
import { apiFor } from '../helpers/services';
import { REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * Bulk dead-letter actions and DELETE with tenant keys: a key acts on its own tenant's letters
 * only (another's, and poison, are out of its reach), only admin may name a tenant, and a bulk
 * replay spends the tenant's spill allowance as its single replays would.
 */
const key = (name: string) => `${name}-key-0123456789abcdef`;
const KEYS_FILE = [
  // acme's spill allowance is two tasks, refilled at one a second: a burst of replays overflows.
  'tenant acme spill-rate=1 spill-burst=2',
  'tenant globex',
  `key acme ${key('acme')} tasks:read,dead-letters:read,dead-letters:replay`,
  `key acme ${key('acme-reader')} dead-letters:read`,
  `key globex ${key('globex')} dead-letters:read,dead-letters:replay`,
  `key globex ${key('operator')} admin`,
].join('\n');

describe('dead letters in bulk, per tenant', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-dead-letters-'));
  const file = join(dir, 'api-keys');
  writeFileSync(file, KEYS_FILE);
  const queue = uniqueQueue();
  const raw = new Redis(REDIS_URL);
  const store = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  let api: Awaited<ReturnType<typeof apiFor>>;
  const call = (as: string, method: string, path: string, json?: unknown): Promise<Reply> =>
    request(api.url, method, path, {
      headers: { authorization: `Bearer ${key(as)}` },
      ...(json !== undefined && { json }),
    });
  const letters = (tenant: string, count: number, type = 'fail') =>
    Array.from({ length: count }, (_, i) => deadLetter(Date.now() - 1000 + i, {}, { type, tenant }));
  const add = async (entries: DeadLetter[]) => {
    for (const entry of entries) await store.add(entry);
    return entries;
  };
  const untouched = async (entries: DeadLetter[]) =>
    expect(await store.getMany(entries.map((e) => e.id))).toEqual(entries);

  beforeAll(async () => {
    api = await apiFor(queue, { API_KEYS_FILE: file, RATE_LIMIT_PER_SECOND: '0' });
  });
  afterAll(async () => {
    await api.stop();
    await store.close();
    await deleteMatching(raw, `${new RedisKeys(queue).prefix}*`);
    await raw.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('acts on its own tenant only: another tenant and poison are out of reach', async () => {
    const acme = await add(letters('acme', 3, 'email'));
    const globex = await add(letters('globex', 3, 'email'));
    const poison = await add([poisonLetter(Date.now())]);

    expect(
      (await call('acme', 'POST', '/v1/dead-letters/discard', { filter: {}, dryRun: true })).body,
    ).toEqual({
      matched: 3,
    });
    // Naming another's ids changes nothing: they are not matched.
    const named = await call('acme', 'POST', '/v1/dead-letters/discard', {
      filter: { ids: [...globex, ...poison].map((e) => e.id) },
    });
    expect(named.body).toEqual({ matched: 0, discarded: 0 });
    for (const other of [globex[0]!, poison[0]!]) {
      const res = await call('acme', 'DELETE', `/v1/dead-letters/${encodeURIComponent(other.id)}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('dead_letter_not_found');
    }
    const replayed = await call('acme', 'POST', '/v1/dead-letters/replay', { filter: { type: 'email' } });
    expect(replayed.body).toMatchObject({ matched: 3, replayed: 3, notReplayable: 0 });
    await untouched([...globex, ...poison]);

    const discarded = await call('acme', 'POST', '/v1/dead-letters/discard', { filter: { tenant: 'acme' } });
    expect(discarded.body).toEqual({ matched: 3, discarded: 3 });
    expect(await store.getMany(acme.map((e) => e.id))).toEqual([undefined, undefined, undefined]);
    await untouched([...globex, ...poison]);
  });

  it('lets only admin name another tenant (403 naming filter.tenant), or reach poison', async () => {
    const globex = await add(letters('globex', 2, 'sms'));
    for (const action of ['replay', 'discard']) {
      const res = await call('acme', 'POST', `/v1/dead-letters/${action}`, {
        filter: { tenant: 'globex' },
        dryRun: true,
      });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'missing_scope', details: [{ field: 'filter.tenant' }] });
    }
    // Without dead-letters:replay: no bulk action, no discard.
    const reader = await call('acme-reader', 'POST', '/v1/dead-letters/discard', { filter: {} });
    expect(reader.status).toBe(403);
    expect((await call('acme-reader', 'DELETE', `/v1/dead-letters/${globex[0]!.id}`)).status).toBe(403);

    const counted = await call('operator', 'POST', '/v1/dead-letters/discard', {
      filter: { tenant: 'globex', type: 'sms' },
      dryRun: true,
    });
    expect(counted.body).toEqual({ matched: 2 });
    const poison = await add([poisonLetter(Date.now() + 1, 99)]);
    const all = await call('operator', 'POST', '/v1/dead-letters/replay', { filter: { reason: 'poison' } });
    expect(all.body).toMatchObject({ matched: 2, notReplayable: 2, replayed: 0 });
    expect(
      (await call('operator', 'DELETE', `/v1/dead-letters/${encodeURIComponent(poison[0]!.id)}`)).status,
    ).toBe(204);
    expect((await call('globex', 'DELETE', `/v1/dead-letters/${globex[0]!.id}`)).status).toBe(204);
  });

  it("spends the tenant's spill allowance: a burst of replays waits in the overflow lane", async () => {
    const acme = await add(letters('acme', 10, 'burst'));
    const res = await call('acme', 'POST', '/v1/dead-letters/replay', { filter: { type: 'burst' } });
    expect(res.body).toMatchObject({ matched: 10, replayed: 10, failed: 0 });
    const lanes: string[] = [];
    for (const { taskId } of res.body.tasks as { taskId: string }[]) {
      const task = await call('acme', 'GET', `/v1/tasks/${taskId}`);
      expect(task.body).toMatchObject({ tenant: 'acme', status: 'queued' });
      lanes.push(task.body.lane);
    }
    expect(lanes.filter((lane) => lane === 'overflow').length).toBeGreaterThanOrEqual(7);
    expect((await store.getMany(acme.map((e) => e.id))).every((e) => e?.replayedAs)).toBe(true);
  });
});
