import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisKeys } from '../../services/shared/redis/keys';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import type { TaskMessage } from '../../services/shared/task';
import { ShutdownInterruption } from '../../services/worker/handler-run';
import { HandlerRegistry } from '../../services/worker/handlers';
import { WorkerMetrics } from '../../services/worker/metrics';
import { persistent } from '../../services/worker/persist';
import { TaskRunner } from '../../services/worker/run-task';
import { deleteMatching } from '../helpers/redis-keys';
import { eventually, quietLogger, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * Two workers' TaskRunners on one real Redis, each with its own claimant, given the same task:
 * what happens when a rebalance hands a partition to a new owner while the old owner still runs
 * one of its tasks (the new owner fetches it again from the last commit).
 */
describe('claims: a task another worker is running is not run again', () => {
  const queue = uniqueQueue();
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  const raw = new Redis(REDIS_URL);
  /** Finished runs of each task's handler, across both workers. */
  const runs = new Map<string, number>();
  /** Opened by a test to let a `held` handler finish. */
  const gates = new Map<string, () => void>();
  /** Started runs of each `held` handler, finished or not. */
  const starts = new Map<string, number>();

  const handlers = new HandlerRegistry()
    .register('held', async (_payload, ctx) => {
      starts.set(ctx.taskId, (starts.get(ctx.taskId) ?? 0) + 1);
      await new Promise<void>((resolve, reject) => {
        gates.set(ctx.taskId, resolve);
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
      });
      runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      return 'done';
    })
    .register('quick', async (_payload, ctx) => {
      runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      return 'done';
    });

  function worker(claimant: string, claimMs = 30_000) {
    const shutdown = new AbortController();
    const metrics = new WorkerMetrics();
    const runner = new TaskRunner({
      store,
      handlers,
      events: metrics,
      logger: quietLogger,
      names: kafkaNames(queue),
      publish: async () => undefined,
      recordDeadLetter: async () => undefined,
      cancellations: { register: () => () => undefined },
      queueCallback: async () => undefined,
      retryPolicy: { baseDelayMs: 1000, maxDelayMs: 1000 },
      maxResultBytes: 1024 * 1024,
      persist: persistent(quietLogger, shutdown.signal),
      shutdown: shutdown.signal,
      claim: { claimant, ms: claimMs },
      timeouts: { defaultMs: 60_000, maxMs: 60_000 },
      // These handlers spawn nothing, and a first attempt that spawned nothing seals nothing.
      spawning: {
        batches: undefined as never,
        enqueue: { names: kafkaNames(queue), store, publish: async () => undefined },
      },
    });
    return { runner, metrics, shutdown };
  }

  const task = (type: string): TaskMessage => ({
    id: randomUUID(),
    type,
    payload: null,
    enqueuedAt: Date.now(),
    maxAttempts: 3,
  });

  const running = (id: string) =>
    eventually(
      async () => ((await store.get(id))?.status === 'running' ? true : undefined),
      5000,
      `${id} running`,
    );

  afterAll(async () => {
    await deleteMatching(raw, `${new RedisKeys(queue).prefix}*`);
    await Promise.all([store.close(), raw.quit()]);
  });

  it('waits for the worker still running the attempt, then skips it as done', async () => {
    const oldOwner = worker('old-owner');
    const newOwner = worker('new-owner');
    const t = task('held');
    const first = oldOwner.runner.run(t);
    await running(t.id);

    const second = newOwner.runner.run(t);
    await sleep(1200);
    expect(runs.get(t.id) ?? 0).toBe(0); // the first run is still going, the second waits
    gates.get(t.id)!();
    await Promise.all([first, second]);

    expect(runs.get(t.id)).toBe(1);
    expect(await store.get(t.id)).toMatchObject({ status: 'succeeded', attempts: 1, result: 'done' });
    const text = await newOwner.metrics.text();
    expect(text).toMatch(/spillway_task_deliveries_held_elsewhere_total\{type="held"\} 1/);
    expect(text).toMatch(/spillway_task_duplicates_skipped_total\{type="held"\} 1/);
  });

  it('runs it once the claim lapses: its worker died without finishing it', async () => {
    const t = task('quick');
    // What a worker killed outright leaves: running, claimed, never extended again.
    await store.transition({
      id: t.id,
      type: t.type,
      createdAt: new Date(t.enqueuedAt),
      status: 'running',
      attempt: 1,
      at: new Date(),
      claim: { claimant: 'dead-worker', ms: 800 },
    });
    const started = Date.now();
    await worker('new-owner').runner.run(t);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(runs.get(t.id)).toBe(1);
    expect((await store.get(t.id))?.status).toBe('succeeded');
  });

  it('gives its claim up when shutdown interrupts the attempt, so the next worker runs it at once', async () => {
    const stopping = worker('stopping-worker');
    const t = task('held');
    const first = stopping.runner.run(t);
    await running(t.id);
    stopping.shutdown.abort();
    await expect(first).rejects.toBeInstanceOf(ShutdownInterruption);

    const started = Date.now();
    const second = worker('next-worker').runner.run(t);
    await eventually(async () => (starts.get(t.id) === 2 ? true : undefined), 5000, 'the second run started');
    // Well under the 30 s claim the interrupted worker held.
    expect(Date.now() - started).toBeLessThan(2000);
    gates.get(t.id)!();
    await second;
    expect(runs.get(t.id)).toBe(1);
    expect((await store.get(t.id))?.status).toBe('succeeded');
  });

  it('extends the claim while a long attempt runs, so a delivery later than its length still waits', async () => {
    const owner = worker('long-runner', 900);
    const t = task('held');
    const first = owner.runner.run(t);
    await running(t.id);
    await sleep(1500); // past the first length: only extensions keep it held
    const second = worker('new-owner').runner.run(t);
    await sleep(600);
    gates.get(t.id)!();
    await Promise.all([first, second]);
    expect(runs.get(t.id)).toBe(1);
  });
});
