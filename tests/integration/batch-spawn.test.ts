import type { JsonValue } from '../../services/shared/task';
import type { Handler } from '../../services/worker/handlers';
import { request } from '../helpers/http';
import { receiver } from '../helpers/receiver';
import { apiFor, handlersWith, workerFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

/**
 * ctx.spawn on the real API, Kafka, Redis and worker: a handler fans out children as a batch whose
 * parent is its task; with `wait` the parent finishes with them; a retried parent spawns the
 * same children, which run once.
 */

const env = { CALLBACK_ALLOW_CIDRS: '127.0.0.0/8', RETRY_BASE_DELAY_MS: '200', RETRY_MAX_DELAY_MS: '200' };
const running: Array<{ stop(): Promise<void> }> = [];
const closing: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const service of running.splice(0).reverse()) await service.stop();
  await Promise.all(closing.splice(0).map((c) => c.close()));
});

/** Runs of each child, by task id, across the test's workers. */
function counting(runs: Map<string, number>): Record<string, Handler> {
  return {
    child: async (payload, ctx) => {
      runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      if ((payload as { fail?: boolean }).fail)
        throw Object.assign(new Error('child told to fail'), { retriable: false });
      return payload;
    },
    // Spawns `n` children; with `failFirst`, its first attempt throws after spawning.
    parent: async (payload, ctx) => {
      const {
        n,
        wait,
        failFirst,
        failing = 0,
      } = payload as {
        n: number;
        wait: boolean;
        failFirst?: boolean;
        failing?: number;
      };
      const children = Array.from({ length: n }, (_, i) => ({
        type: 'child',
        payload: { i, fail: i < failing } as JsonValue,
      }));
      const spawned = await ctx.spawn(children, { wait });
      if (failFirst && ctx.attempt === 1) throw new Error('parent fails after spawning, once');
      return { spawned: spawned.taskIds.length, batch: spawned.batchId };
    },
  };
}

async function start(runs: Map<string, number>) {
  const queue = uniqueQueue();
  const api = await apiFor(queue, env);
  running.push(api);
  const worker = await workerFor(queue, { ...env, WORKER_CONCURRENCY: '8' }, handlersWith(counting(runs)));
  running.push(worker);
  return api;
}

describe('child tasks from handlers (ctx.spawn)', () => {
  it('a waiting parent finishes with its children, and its callback comes after theirs', async () => {
    const runs = new Map<string, number>();
    const api = await start(runs);
    const hook = await receiver((res) => res.writeHead(200).end());
    closing.push(hook);
    const submitted = await request(api.url, 'POST', '/v1/tasks', {
      json: { type: 'parent', payload: { n: 50, wait: true }, callbackUrl: hook.url },
    });
    const parent = await request(api.url, 'GET', `/v1/tasks/${submitted.body.id}?wait=25`);
    expect(parent.body).toMatchObject({ status: 'succeeded', result: { spawned: 50 } });
    const batchId = parent.body.children as string;
    expect(parent.body.result.batch).toBe(batchId);
    const batch = await request(api.url, 'GET', `/v1/batches/${batchId}`);
    expect(batch.body).toMatchObject({
      status: 'finished',
      total: 50,
      counts: { succeeded: 50, failed: 0 },
      parent: submitted.body.id,
    });
    expect(new Date(parent.body.finishedAt).getTime()).toBeGreaterThanOrEqual(
      new Date(batch.body.finishedAt).getTime(),
    );
    expect(runs.size).toBe(50);
    await eventually(async () => (hook.received.length > 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(hook.received).toHaveLength(1);
    expect(JSON.parse(hook.received[0]!.rawBody)).toMatchObject({
      id: submitted.body.id,
      status: 'succeeded',
    });
  });

  it('spawns more children than a worker publisher holds at once (12,000)', async () => {
    const runs = new Map<string, number>();
    const api = await start(runs);
    const submitted = await request(api.url, 'POST', '/v1/tasks', {
      json: { type: 'parent', payload: { n: 12_000, wait: true } },
    });
    const parent = await eventually(async () => {
      const reply = await request(api.url, 'GET', `/v1/tasks/${submitted.body.id}?wait=25`);
      return reply.body.status === 'succeeded' || reply.body.status === 'failed' ? reply.body : undefined;
    }, 90_000);
    expect(parent).toMatchObject({ status: 'succeeded', attempts: 1, result: { spawned: 12_000 } });
    expect(runs.size).toBe(12_000);
  }, 120_000);

  it('a retried parent spawns the same children: each runs once, the batch counts each once', async () => {
    const runs = new Map<string, number>();
    const api = await start(runs);
    const submitted = await request(api.url, 'POST', '/v1/tasks', {
      json: { type: 'parent', payload: { n: 20, wait: true, failFirst: true } },
    });
    const parent = await request(api.url, 'GET', `/v1/tasks/${submitted.body.id}?wait=25`);
    expect(parent.body).toMatchObject({ status: 'succeeded', attempts: 2 });
    const batch = await request(api.url, 'GET', `/v1/batches/${parent.body.children}`);
    expect(batch.body).toMatchObject({ total: 20, done: 20, counts: { succeeded: 20 } });
    expect(runs.size).toBe(20);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
  });

  it('a waiting parent fails when a child fails; one that does not wait succeeds at once', async () => {
    const runs = new Map<string, number>();
    const api = await start(runs);
    const waiting = await request(api.url, 'POST', '/v1/tasks', {
      json: { type: 'parent', payload: { n: 5, wait: true, failing: 2 } },
    });
    const failed = await request(api.url, 'GET', `/v1/tasks/${waiting.body.id}?wait=25`);
    expect(failed.body).toMatchObject({
      status: 'failed',
      error: { name: 'ChildTasksFailed', message: expect.stringContaining('2 of 5 children') },
      result: { spawned: 5 },
    });

    const detached = await request(api.url, 'POST', '/v1/tasks', {
      json: { type: 'parent', payload: { n: 5, wait: false } },
    });
    const done = await request(api.url, 'GET', `/v1/tasks/${detached.body.id}?wait=25`);
    expect(done.body.status).toBe('succeeded');
    const batch = await request(api.url, 'GET', `/v1/batches/${done.body.children}?wait=25`);
    expect(batch.body).toMatchObject({ status: 'finished', total: 5, counts: { succeeded: 5 } });
    expect(batch.body).not.toHaveProperty('parent');
  });
});
