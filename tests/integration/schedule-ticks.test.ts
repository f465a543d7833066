import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from 'kafkajs';
import { kafkaNames } from '../../services/shared/kafka/names';
import { JavaCompatiblePartitioner } from '../../services/shared/kafka/partitioner';
import { RedisScheduleStore } from '../../services/shared/redis/schedule-store';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { tickTaskId } from '../../services/shared/schedules/schedule';
import { ScheduleFirer, type ScheduleFirerDeps } from '../../services/worker/schedules/firer';
import { request } from '../helpers/http';
import { apiFor, handlersWith, metricValue, workerFor } from '../helpers/services';
import { eventually, quietLogger, REDIS_URL, testKafka, uniqueQueue } from '../helpers/stack';

/** How long the schedule fires: about a minute of one-second ticks. */
const FIRING_MS = 55_000;
/** A second firer reads the cursor this far behind, so it publishes most ticks again. */
const STALE_BY_MS = 3000;

/**
 * A one-second cron schedule fired by three workers (each its own full wiring in this process:
 * its own Kafka and Redis clients and firer) for about a minute, with a fourth firer that ignores
 * the leases and reads a stale cursor, so most ticks are published two or more times. Every tick
 * must run exactly once, none missing: the tick's task id, not the lease, is what makes it once.
 */
describe('schedule ticks across three workers', () => {
  const queue = uniqueQueue();
  const runs = new Map<string, number>();
  const handlers = () =>
    handlersWith({
      tick: async (_payload, ctx) => {
        runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      },
    });
  let api: Awaited<ReturnType<typeof apiFor>>;
  let workers: Awaited<ReturnType<typeof workerFor>>[];
  let producer: Producer;
  let schedules: RedisScheduleStore;
  let tasks: RedisTaskStore;

  beforeAll(async () => {
    api = await apiFor(queue);
    const env = { SCHEDULE_POLL_MS: '100', WORKER_CONCURRENCY: '4' };
    workers = await Promise.all([1, 2, 3].map(() => workerFor(queue, env, handlers())));
    producer = testKafka().producer({ createPartitioner: JavaCompatiblePartitioner });
    await producer.connect();
    schedules = new RedisScheduleStore({ url: REDIS_URL, queue });
    tasks = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await api.stop();
    await producer.disconnect();
    await schedules.close();
    await tasks.close();
  });

  /**
   * Named fake: a store that grants this firer every lease, always finds the schedule due, hands
   * it a cursor STALE_BY_MS old and never records its progress, as a firer whose lease lapsed in
   * the middle of every publish would. Its reads and the publishing are the real ones.
   */
  const duplicatingStore = (id: string): ScheduleFirerDeps['store'] => ({
    due: async () => [id],
    lease: async () => true,
    release: async () => undefined,
    get: async (scheduleId) => {
      const stored = await schedules.get(scheduleId);
      // Never before the schedule existed: those are no ticks of it.
      return (
        stored && { ...stored, cursor: Math.max(stored.cursor - STALE_BY_MS, stored.schedule.createdAt) }
      );
    },
    advance: async () => false,
  });

  it('runs every tick of a one-second cron exactly once for a minute, with none missing', async () => {
    const created = await request(api.url, 'POST', '/v1/schedules', {
      json: { cron: '* * * * * *', task: { type: 'tick', payload: { from: 'schedule' } } },
    });
    expect(created.status).toBe(201);
    const { id } = created.body;
    const duplicator = new ScheduleFirer({
      store: duplicatingStore(id),
      enqueue: {
        names: kafkaNames(queue),
        store: tasks,
        publish: async (messages) => {
          await producer.send({ topic: messages[0]!.topic, acks: -1, messages });
        },
      },
      holder: 'duplicator',
      options: { pollMs: 250, graceMs: 10_000, leaseMs: 5000 },
      events: { ticksFired: () => undefined, ticksSkipped: () => undefined },
      logger: quietLogger,
    });
    duplicator.start();
    await sleep(FIRING_MS);
    await duplicator.stop();
    // The workers fire what the duplicator fired last before the schedule is paused.
    await sleep(1500);
    const paused = await request(api.url, 'PATCH', `/v1/schedules/${id}`, { json: { paused: true } });
    expect(paused.body.state).toBe('paused');

    const createdAt = Date.parse(paused.body.createdAt);
    const lastTick = Date.parse(paused.body.lastTick.at);
    const ticks: number[] = [];
    for (let t = Math.floor(createdAt / 1000) * 1000 + 1000; t <= lastTick; t += 1000) ticks.push(t);
    expect(ticks.length).toBeGreaterThanOrEqual(FIRING_MS / 1000 - 2);
    const ids = ticks.map((t) => tickTaskId(id, t));
    await eventually(
      async () => (ids.every((t) => runs.has(t)) ? true : undefined),
      20_000,
      'every tick ran',
    );
    // A duplicate that runs late would show here.
    await sleep(1000);
    expect(ids.filter((t) => runs.get(t) !== 1)).toEqual([]);
    expect(runs.size).toBe(ids.length);

    const published = await Promise.all(
      workers.map((w) => metricValue(w.url, 'spillway_schedule_ticks_fired_total')),
    );
    expect(published.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(ids.length);
    for (const w of workers)
      expect(await metricValue(w.url, 'spillway_schedule_ticks_skipped_total')).toBe(0);

    const record = await request(api.url, 'GET', `/v1/tasks/${ids[0]}`);
    expect(record.body).toMatchObject({ id: ids[0], type: 'tick', status: 'succeeded', schedule: id });
  }, 120_000);
});
