import type { JsonValue } from '../../services/shared/task';
import { request } from '../helpers/http';
import { receiver } from '../helpers/receiver';
import { apiFor, handlersWith, workerFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

/**
 * Batches on the real API, Kafka, Redis and worker: children join until the batch is sealed, it
 * completes once every child is terminal, and then its callback and onComplete task go out once.
 */

const callbacks = { CALLBACK_ALLOW_CIDRS: '127.0.0.0/8' };
type Api = Awaited<ReturnType<typeof apiFor>>;
type Worker = Awaited<ReturnType<typeof workerFor>>;

const running: Array<{ stop(): Promise<void> }> = [];
const hooks: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const service of running.splice(0).reverse()) await service.stop();
  await Promise.all(hooks.splice(0).map((hook) => hook.close()));
});

async function start(
  queue: string,
  completed: JsonValue[] = [],
  workerEnv: Record<string, string> = {},
): Promise<{ api: Api; worker: Worker }> {
  const api = await apiFor(queue, callbacks);
  running.push(api);
  const worker = await workerFor(
    queue,
    { ...callbacks, ...workerEnv },
    handlersWith({
      'batch-done': async (payload) => {
        completed.push(payload);
        return 'noted';
      },
      'maybe-fail': async (payload) => {
        if ((payload as { fail?: boolean }).fail)
          throw Object.assign(new Error('told to fail'), { retriable: false });
        return null;
      },
    }),
  );
  running.push(worker);
  return { api, worker };
}

async function hook() {
  const server = await receiver((res) => res.writeHead(200).end());
  hooks.push(server);
  return server;
}

describe('batches', () => {
  it('completes once every child is terminal: counts, unsuccessful ids, callback and onComplete once', async () => {
    const completed: JsonValue[] = [];
    const { api } = await start(uniqueQueue(), completed);
    const receiving = await hook();
    const created = await request(api.url, 'POST', '/v1/batches', {
      json: {
        callbackUrl: receiving.url,
        onComplete: { type: 'batch-done', payload: { report: 'weekly' } },
        metadata: { campaign: 42 },
        tasks: [
          { type: 'maybe-fail', payload: {} },
          { type: 'maybe-fail', payload: { fail: true } },
          { type: 'maybe-fail', payload: {} },
          { type: 'no such type!' },
        ],
      },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/v1/batches/${created.body.batch.id}`);
    expect(created.body).toMatchObject({ accepted: 3, rejected: 1 });
    expect(created.body.results[3].error.details[0].field).toBe('tasks[3].type');
    const id = created.body.batch.id as string;
    expect(created.body.batch).toMatchObject({ status: 'open', total: 3, metadata: { campaign: 42 } });

    const more = await request(api.url, 'POST', `/v1/batches/${id}/tasks`, {
      json: { tasks: [{ type: 'maybe-fail', payload: {} }], seal: true },
    });
    expect(more.status).toBe(202);
    expect(more.body.batch.total).toBe(4);

    const done = await request(api.url, 'GET', `/v1/batches/${id}?wait=25`);
    expect(done.body).toMatchObject({
      status: 'finished',
      total: 4,
      done: 4,
      pending: 0,
      progress: 1,
      counts: { succeeded: 3, failed: 1, cancelled: 0 },
    });
    expect(done.body.unsuccessful.ids).toEqual([created.body.results[1].id]);
    const child = await request(api.url, 'GET', `/v1/tasks/${created.body.results[0].id}`);
    expect(child.body.batch).toBe(id);

    await eventually(async () =>
      receiving.received.length >= 1 && completed.length >= 1 ? true : undefined,
    );
    const delivered = JSON.parse(receiving.received[0]!.rawBody);
    expect(delivered).toMatchObject({ id, status: 'finished', counts: { succeeded: 3, failed: 1 } });
    expect(receiving.received[0]!.headers['spillway-batch-id']).toBe(id);
    expect(receiving.received[0]!.headers['idempotency-key']).toBe(`batch:${id}:completion`);
    expect(completed[0]).toMatchObject({ batch: { id, done: 4 }, payload: { report: 'weekly' } });
    // Nothing more arrives: one callback, one onComplete run.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(receiving.received).toHaveLength(1);
    expect(completed).toHaveLength(1);
    const after = await request(api.url, 'GET', `/v1/batches/${id}`);
    expect(after.body.callback).toMatchObject({ delivered: true, attempts: 1, status: 200 });
  });

  it('a sealed batch of 10,000 children completes, and its callback arrives once', async () => {
    const { api } = await start(uniqueQueue(), [], { WORKER_CONCURRENCY: '64' });
    const receiving = await hook();
    const created = await request(api.url, 'POST', '/v1/batches', { json: { callbackUrl: receiving.url } });
    const id = created.body.batch.id as string;
    for (let request_ = 0; request_ < 10; request_++) {
      const added = await request(api.url, 'POST', `/v1/batches/${id}/tasks`, {
        json: {
          tasks: Array.from({ length: 1000 }, (_, i) => ({ type: 'echo', payload: i })),
          seal: request_ === 9,
        },
      });
      expect(added.body).toMatchObject({ accepted: 1000, rejected: 0 });
    }
    const done = await eventually(async () => {
      const batch = await request(api.url, 'GET', `/v1/batches/${id}?wait=25`);
      return batch.body.status === 'finished' ? batch.body : undefined;
    }, 90_000);
    expect(done).toMatchObject({ total: 10_000, done: 10_000, counts: { succeeded: 10_000 } });
    await eventually(async () => (receiving.received.length > 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(receiving.received).toHaveLength(1);
    expect(JSON.parse(receiving.received[0]!.rawBody)).toMatchObject({ id, total: 10_000, done: 10_000 });
  }, 120_000);

  it('refuses children once sealed, and completes an empty sealed batch at once', async () => {
    const { api } = await start(uniqueQueue());
    const empty = await request(api.url, 'POST', '/v1/batches', { json: { seal: true } });
    expect(empty.status).toBe(201);
    expect(empty.body.batch).toMatchObject({ status: 'finished', total: 0, progress: 1 });
    const late = await request(api.url, 'POST', `/v1/batches/${empty.body.batch.id}/tasks`, {
      json: { tasks: [{ type: 'echo' }] },
    });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('batch_sealed');
    const missing = await request(api.url, 'GET', '/v1/batches/no-such-batch');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('batch_not_found');
  });

  it('names the field at fault', async () => {
    const { api } = await start(uniqueQueue());
    const bad = await request(api.url, 'POST', '/v1/batches', {
      json: { onComplete: { type: 'batch-done', runAt: new Date().toISOString() }, callbackUrl: 'ftp://x' },
    });
    expect(bad.status).toBe(422);
    const fields = (bad.body.error.details as { field: string }[]).map((d) => d.field).sort();
    expect(fields).toEqual(['callbackUrl']);
    const badTemplate = await request(api.url, 'POST', '/v1/batches', {
      json: { onComplete: { type: 'batch-done', runAt: new Date().toISOString() } },
    });
    expect(badTemplate.body.error.details).toEqual([
      { field: 'onComplete.runAt', message: 'not for onComplete: give delayMs (from completion)' },
    ]);
    const noChildren = await request(api.url, 'POST', '/v1/batches/x/tasks', { json: { tasks: [] } });
    expect(noChildren.status).toBe(404);
  });

  it('cancels every child not yet finished, and completes with them', async () => {
    const { api } = await start(uniqueQueue());
    const created = await request(api.url, 'POST', '/v1/batches', {
      json: { tasks: Array.from({ length: 5 }, () => ({ type: 'sleep', payload: { ms: 30_000 } })) },
    });
    const id = created.body.batch.id as string;
    await eventually(async () => {
      const task = await request(api.url, 'GET', `/v1/tasks/${created.body.results[0].id}`);
      return task.body.status === 'running' ? true : undefined;
    });
    const cancelled = await request(api.url, 'DELETE', `/v1/batches/${id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.cancelledAt).not.toBeNull();
    const done = await request(api.url, 'GET', `/v1/batches/${id}?wait=20`);
    expect(done.body).toMatchObject({ status: 'finished', counts: { cancelled: 5, succeeded: 0 } });
  });
});
