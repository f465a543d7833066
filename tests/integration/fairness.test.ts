import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaNames } from '../../services/shared/kafka/names';
import type { JsonValue } from '../../services/shared/task';
import { request, type Reply } from '../helpers/http';
import { readTopic } from '../helpers/kafka';
import { apiFor, handlersWith, metricValue, workerFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

/**
 * Fairness under a burst, on the real API, Kafka, Redis and worker: a tenant's tasks beyond its
 * spill allowance wait in the overflow lane, behind everyone else's, and come back to their own
 * lanes once the allowance refills; an ordering key stays in one lane while it has unfinished
 * tasks, so it keeps its order whatever part of the tenant spills.
 */

const key = (tenant: string) => `${tenant}-key-0123456789abcdef`;
const SCOPES = 'tasks:submit,tasks:read';

type Api = Awaited<ReturnType<typeof apiFor>>;
type Worker = Awaited<ReturnType<typeof workerFor>>;

describe('fairness under a burst', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-fairness-'));
  const file = join(dir, 'api-keys');
  let api: Api;
  let worker: Worker | undefined;
  let queue: string;

  const call = (tenant: string, method: string, path: string, json?: unknown): Promise<Reply> =>
    request(api.url, method, path, {
      headers: { authorization: `Bearer ${key(tenant)}` },
      ...(json !== undefined && { json }),
    });
  const submitBatch = async (tenant: string, tasks: object[]): Promise<string[]> => {
    const reply = await call(tenant, 'POST', '/v1/tasks/batch', { tasks });
    expect([reply.status, reply.body.rejected]).toEqual([202, 0]);
    return (reply.body.results as { id: string }[]).map((r) => r.id);
  };
  const submitOne = async (tenant: string, task: object): Promise<string> => {
    const reply = await call(tenant, 'POST', '/v1/tasks', task);
    expect(reply.status).toBe(202);
    return reply.body.id as string;
  };
  const laneOfTask = async (tenant: string, id: string): Promise<string> =>
    (await call(tenant, 'GET', `/v1/tasks/${id}`)).body.lane as string;

  beforeEach(async () => {
    queue = uniqueQueue();
    writeFileSync(
      file,
      [
        // burster: 10 tasks at once, then 5 a second; calm: no allowance of its own, and
        // TENANT_SPILL_RATE is 0 here, so it never spills.
        'tenant burster spill-rate=5 spill-burst=10',
        'tenant calm',
        ...['burster', 'calm'].map((t) => `key ${t} ${key(t)} ${SCOPES}`),
      ].join('\n'),
    );
    api = await apiFor(queue, { API_KEYS_FILE: file });
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await api?.stop();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("spills a tenant's tasks beyond its allowance to the overflow lane, and returns once it refills", async () => {
    const names = kafkaNames(queue);
    const burst = await submitBatch(
      'burster',
      Array.from({ length: 30 }, () => ({ type: 'echo' })),
    );
    const calm = await submitBatch(
      'calm',
      Array.from({ length: 30 }, () => ({ type: 'echo' })),
    );
    const lanes = await Promise.all(burst.map((id) => laneOfTask('burster', id)));
    // The allowance's 10 first, in submission order; the other 20 spill.
    expect(lanes).toEqual([...Array(10).fill('normal'), ...Array(20).fill('overflow')]);
    expect(new Set(await Promise.all(calm.map((id) => laneOfTask('calm', id))))).toEqual(new Set(['normal']));
    const overflow = (await readTopic(names.lanes.find((l) => l.name === 'overflow')!.topic, 20)).map(
      (m) => JSON.parse(m.value!.toString()).id as string,
    );
    expect(overflow.sort()).toEqual(burst.slice(10).sort());
    expect(await metricValue(api.url, 'spillway_tasks_spilled_total{tenant="burster"}')).toBe(20);
    // Two seconds refill 10 tasks' worth: back in its own lane, with the priority it asks for.
    await sleep(2100);
    const back = await submitBatch('burster', [{ type: 'echo', priority: 'high' }, { type: 'echo' }]);
    expect(await Promise.all(back.map((id) => laneOfTask('burster', id)))).toEqual(['high', 'normal']);
    const view = (await call('burster', 'GET', `/v1/tasks/${burst[29]}`)).body;
    expect([view.priority, view.lane]).toEqual(['normal', 'overflow']);
  });

  it('runs the other tenants ahead of a spilled burst, and gives the burst every idle slot', async () => {
    const started: string[] = [];
    worker = await workerFor(
      queue,
      { WORKER_CONCURRENCY: '1' },
      handlersWith({
        step: async (payload: JsonValue) => {
          started.push((payload as { who: string }).who);
          await sleep(5);
          return null;
        },
      }),
    );
    const step = (who: string) => ({ type: 'step', payload: { who } });
    // 10 within the allowance, 290 spilled.
    await submitBatch(
      'burster',
      Array.from({ length: 300 }, () => step('burster')),
    );
    await eventually(async () => (started.length >= 15 ? true : undefined), 20_000, 'the burst started');
    const before = started.length;
    await submitBatch(
      'calm',
      Array.from({ length: 30 }, () => step('calm')),
    );
    await eventually(async () => (started.length === 330 ? true : undefined), 60_000, 'every task ran');
    const lastCalm = started.lastIndexOf('calm');
    const burstBetween = started.slice(before, lastCalm).filter((w) => w === 'burster').length;
    // Overflow 1 : normal 3 while both wait: about 10 burst tasks run among calm's 30 (plus a
    // fetch's worth), not the 285 or so a single first-in-first-out queue would run first.
    expect(burstBetween).toBeLessThan(60);
    expect(started.slice(lastCalm + 1).filter((w) => w === 'burster').length).toBeGreaterThan(200);
  });

  it('keeps an ordering key in one lane, in order, while part of its tenant spills; freed once it is done', async () => {
    const ran: number[] = [];
    const sequence = Array.from({ length: 12 }, (_, n) => n);
    // One by one, no worker yet: every task of the key is still unfinished when the next comes.
    // The first takes an allowance token (normal); the allowance runs out along the way, and
    // the key asks for high and low too, yet every one of its tasks stays in the first's lane.
    const ids: string[] = [];
    for (const n of sequence) {
      const priority = ['normal', 'high', 'low'][n % 3];
      ids.push(await submitOne('burster', { type: 'ordered', key: 'account-7', payload: { n }, priority }));
      // Unkeyed tasks between them spend the allowance: they spill once it is gone.
      await submitBatch('burster', [{ type: 'echo' }, { type: 'echo' }]);
    }
    const lanes = await Promise.all(ids.map((id) => laneOfTask('burster', id)));
    expect(new Set(lanes)).toEqual(new Set(['normal']));
    expect((await call('burster', 'GET', `/v1/tasks/${ids[1]}`)).body.priority).toBe('high');
    const spilledUnkeyed = await metricValue(api.url, 'spillway_tasks_spilled_total{tenant="burster"}');
    expect(spilledUnkeyed).toBeGreaterThan(0);

    worker = await workerFor(
      queue,
      { WORKER_CONCURRENCY: '8' },
      handlersWith({
        ordered: async (payload: JsonValue) => {
          ran.push((payload as { n: number }).n);
          await sleep(5);
          return null;
        },
      }),
    );
    await eventually(async () => (ran.length === sequence.length ? true : undefined), 30_000, 'the key ran');
    expect(ran).toEqual(sequence);
    // Every task of the key finished: its next task goes to the lane it asks for.
    await eventually(
      async () => {
        const views = await Promise.all(ids.map((id) => call('burster', 'GET', `/v1/tasks/${id}`)));
        return views.every((v) => v.body.status === 'succeeded') ? true : undefined;
      },
      10_000,
      'the key finished',
    );
    await sleep(2100); // the allowance refills
    const next = await submitOne('burster', {
      type: 'ordered',
      key: 'account-7',
      payload: { n: 12 },
      priority: 'high',
    });
    expect(await laneOfTask('burster', next)).toBe('high');
  });

  it('frees a key held by a task that never reached Kafka', async () => {
    // Too large for the topic: refused with 413 after its lane was chosen.
    const tooLarge = await call('calm', 'POST', '/v1/tasks', {
      type: 'echo',
      key: 'order-1',
      priority: 'low',
      payload: 'x'.repeat(1024 * 1024 - 200),
    });
    expect(tooLarge.status).toBe(413);
    const next = await submitOne('calm', { type: 'echo', key: 'order-1', priority: 'high' });
    expect(await laneOfTask('calm', next)).toBe('high');
  });
});
