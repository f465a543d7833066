import { setTimeout as sleep } from 'node:timers/promises';
import { tickTaskId } from '../../services/shared/schedules/schedule';
import { request } from '../helpers/http';
import { apiFor, metricValue, workerFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

const GRACE_MS = 1500;
const DOWN_MS = 6000;
const MAX_CATCH_UP = 3;

/**
 * Ticks missed while no worker ran, on the real stack: the only worker stops for DOWN_MS, then a
 * new one starts. A `skip` schedule drops the ticks that were older than the grace when it came
 * back; a `catch-up` one runs the newest MAX_CATCH_UP of them late and drops the rest.
 */
describe('missed ticks after the workers were down', () => {
  const queue = uniqueQueue();
  const env = { SCHEDULE_POLL_MS: '100', SCHEDULE_MISFIRE_GRACE_MS: String(GRACE_MS) };
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>>;

  beforeAll(async () => {
    api = await apiFor(queue);
    worker = await workerFor(queue, env);
  });
  afterAll(async () => {
    await worker.stop();
    await api.stop();
  });

  const schedule = async (id: string) => (await request(api.url, 'GET', `/v1/schedules/${id}`)).body;

  /** Each tick of the schedule up to its last one, with when its task was created (undefined: never). */
  const tickOutcomes = async (id: string) => {
    const view = await schedule(id);
    const anchor = Date.parse(view.createdAt);
    const outcomes: { tick: number; firedAt: number | undefined }[] = [];
    for (let tick = anchor + 1000; tick <= Date.parse(view.lastTick.at); tick += 1000) {
      const task = await request(api.url, 'GET', `/v1/tasks/${tickTaskId(id, tick)}`);
      outcomes.push({ tick, firedAt: task.status === 200 ? Date.parse(task.body.createdAt) : undefined });
    }
    return outcomes;
  };

  it('skip drops the missed ticks; catch-up runs the newest of them up to its bound', async () => {
    const create = async (policy: object) => {
      const res = await request(api.url, 'POST', '/v1/schedules', {
        json: { intervalMs: 1000, task: { type: 'echo' }, ...policy },
      });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    const skip = await create({ missed: 'skip' });
    const catchUp = await create({ missed: 'catch-up', maxCatchUp: MAX_CATCH_UP });
    await eventually(
      async () => ((await schedule(catchUp)).lastTick ? true : undefined),
      10_000,
      'a first tick',
    );

    await worker.stop();
    const downAt = Date.now();
    await sleep(DOWN_MS);
    worker = await workerFor(queue, env);
    await eventually(
      async () => (Date.parse((await schedule(skip)).lastTick.at) > downAt + DOWN_MS ? true : undefined),
      20_000,
      'ticks after the restart',
    );
    await sleep(2000);
    for (const id of [skip, catchUp]) {
      await request(api.url, 'PATCH', `/v1/schedules/${id}`, { json: { paused: true } });
    }

    const missing = (outcomes: { firedAt: number | undefined }[]) =>
      outcomes.filter((o) => o.firedAt === undefined);
    // Fired more than the grace after its tick: a missed tick run late.
    const late = (outcomes: { tick: number; firedAt: number | undefined }[]) =>
      outcomes.filter((o) => o.firedAt !== undefined && o.firedAt - o.tick > GRACE_MS);

    const skipped = await tickOutcomes(skip);
    expect(missing(skipped).length).toBeGreaterThanOrEqual(DOWN_MS / 1000 - GRACE_MS / 1000 - 1);
    expect(late(skipped)).toEqual([]);

    const caughtUp = await tickOutcomes(catchUp);
    const caughtUpLate = late(caughtUp);
    expect(caughtUpLate).toHaveLength(MAX_CATCH_UP);
    // The ticks run late are the newest missed ones: right after the dropped ones, one after another.
    const firstLate = caughtUp.indexOf(caughtUpLate[0]!);
    expect(caughtUp.slice(firstLate, firstLate + MAX_CATCH_UP)).toEqual(caughtUpLate);
    expect(caughtUp[firstLate - 1]!.firedAt).toBeUndefined();
    expect(missing(caughtUp).length).toBeGreaterThanOrEqual(1);

    // The restarted worker dropped exactly the ticks that never ran.
    const dropped = missing(skipped).length + missing(caughtUp).length;
    expect(await metricValue(worker.url, 'spillway_schedule_ticks_skipped_total')).toBe(dropped);
  }, 90_000);
});
