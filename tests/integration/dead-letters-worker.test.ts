import type { DeadLetter } from '../../services/shared/dead-letter';
import type { JsonValue } from '../../services/shared/task';
import { NonRetriableError } from '../../services/worker/handlers';
import { request } from '../helpers/http';
import { apiFor, handlersWith, workerFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

/**
 * The whole path on the real stack: tasks a real worker gave up on are replayed in bulk, by
 * filter, once the cause is fixed; the new tasks succeed on the worker, and repeating the bulk
 * replay runs nothing twice.
 */
describe('a bulk replay onto a real worker', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>>;
  /** Flipped once the "bug" is fixed: until then every `mending` task fails. */
  let fixed = false;
  /** Successful runs per payload `n`, after the fix. */
  const runs = new Map<number, number>();

  beforeAll(async () => {
    api = await apiFor(queue);
    const mending = async (payload: JsonValue) => {
      const { n, permanent } = payload as { n: number; permanent?: boolean };
      if (!fixed) throw permanent ? new NonRetriableError(`bad input ${n}`) : new Error(`down ${n}`);
      runs.set(n, (runs.get(n) ?? 0) + 1);
      return { n };
    };
    worker = await workerFor(queue, {}, handlersWith({ mending }));
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
  });

  const listed = async (query: string): Promise<DeadLetter[]> =>
    (await request(api.url, 'GET', `/v1/dead-letters?limit=200&${query}`)).body.items;
  const replay = async (filter: object) => {
    const res = await request(api.url, 'POST', '/v1/dead-letters/replay', { json: { filter } });
    expect(res.status).toBe(200);
    return res.body;
  };
  const succeeded = (taskIds: string[]) =>
    eventually(
      async () => {
        const statuses = await Promise.all(
          taskIds.map(async (id) => (await request(api.url, 'GET', `/v1/tasks/${id}`)).body.status),
        );
        return statuses.every((status) => status === 'succeeded') ? true : undefined;
      },
      30_000,
      'the replayed tasks succeeded',
    );

  it('replays what failed, by reason and type, and runs each replayed task once', async () => {
    // Six mending tasks: two fail for good (non-retriable), four run out of their one attempt;
    // and two of another type that stay dead.
    for (let n = 0; n < 6; n++) {
      const sent = await request(api.url, 'POST', '/v1/tasks', {
        json: { type: 'mending', payload: { n, permanent: n < 2 }, maxAttempts: 1 },
      });
      expect(sent.status).toBe(202);
    }
    for (let i = 0; i < 2; i++) {
      await request(api.url, 'POST', '/v1/tasks', { json: { type: 'fail', maxAttempts: 1 } });
    }
    await eventually(
      async () => ((await listed('')).length === 8 ? true : undefined),
      30_000,
      'eight dead letters',
    );
    expect((await listed('type=mending&reason=non-retriable')).length).toBe(2);
    expect((await listed('type=mending&reason=attempts-exhausted')).length).toBe(4);
    fixed = true;

    const dry = await request(api.url, 'POST', '/v1/dead-letters/replay', {
      json: { filter: { type: 'mending' }, dryRun: true },
    });
    expect(dry.body).toEqual({ matched: 6 });
    expect((await listed('type=mending')).every((d) => d.replayedAs === null)).toBe(true);

    const first = await replay({ type: 'mending', reason: 'non-retriable' });
    expect(first).toMatchObject({ matched: 2, replayed: 2, alreadyReplayed: 0, failed: 0 });
    const second = await replay({ type: 'mending' });
    expect(second).toMatchObject({ matched: 6, replayed: 4, alreadyReplayed: 2, failed: 0 });
    const taskIds = [...first.tasks, ...second.tasks].map((t: { taskId: string }) => t.taskId);
    await succeeded(taskIds);

    // Repeated: nothing is replayed twice, and no task runs again.
    expect(await replay({ type: 'mending' })).toEqual({
      matched: 6,
      replayed: 0,
      alreadyReplayed: 6,
      notReplayable: 0,
      failed: 0,
      tasks: [],
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect([...runs.entries()].sort(([a], [b]) => a - b)).toEqual([0, 1, 2, 3, 4, 5].map((n) => [n, 1]));
    const letters = await listed('type=mending');
    expect(letters.map((d) => d.replayedAs).sort()).toEqual([...taskIds].sort());
    // Each new task's record names the letter it re-runs.
    for (const letter of letters) {
      const record = (await request(api.url, 'GET', `/v1/tasks/${letter.replayedAs}`)).body;
      expect({ task: letter.replayedAs, replayOf: record.replayOf }).toEqual({
        task: letter.replayedAs,
        replayOf: letter.id,
      });
    }
    // The other type's letters were left alone.
    expect((await listed('type=fail')).map((d) => d.replayedAs)).toEqual([null, null]);
  }, 90_000);
});
