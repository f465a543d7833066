import { EXIT } from '../../services/cli/exit-codes';
import { spillway } from '../helpers/cli';
import { apiFor, workerFor } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';

/**
 * `spillway batches create|show|seal|cancel` of the compiled CLI, each run as its own process,
 * against the real API and worker on the local Kafka and Redis.
 */
describe('spillway batches', () => {
  const queue = uniqueQueue();
  const services: Array<{ stop(): Promise<void> }> = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    const api = await apiFor(queue);
    services.push(api, await workerFor(queue));
    env = { SPILLWAY_URL: api.url };
  });
  afterAll(async () => {
    for (const service of services.reverse()) await service.stop();
  });

  it('creates a sealed batch from JSON lines on stdin and waits for it to finish', async () => {
    const lines = [
      ...Array.from({ length: 1500 }, (_, i) => JSON.stringify({ type: 'echo', payload: i })),
      JSON.stringify({ type: 'fail', payload: { message: 'one bad child' } }),
    ].join('\n');
    const created = await spillway(['batches', 'create'], env, lines);
    expect(created).toMatchObject({ code: EXIT.ok, stderr: '' });
    const id = created.stdout.trim();
    const shown = await spillway(['batches', 'show', id, '--wait', '60'], env);
    // A child failed: exit 1, as `spillway wait` does for a failed task.
    expect(shown.code).toBe(EXIT.taskFailed);
    expect(shown.stdout).toMatch(
      new RegExp(`^${id}  finished  1501/1501  succeeded 1500  failed 1  cancelled 0\\n  unsuccessful `),
    );
    const json = JSON.parse((await spillway(['batches', 'show', id, '--json'], env)).stdout);
    expect(json).toMatchObject({ id, status: 'finished', total: 1501 });
  });

  it('leaves a batch open with --open, seals and cancels it; an unknown id is exit 4', async () => {
    const created = await spillway(
      ['batches', 'create', '--open', '--json'],
      env,
      '{"type":"sleep","payload":{"ms":60000}}\n',
    );
    expect(created.code).toBe(EXIT.ok);
    const batch = JSON.parse(created.stdout);
    expect(batch).toMatchObject({ status: 'open', children: 1, rejected: 0 });
    const cancelled = await spillway(['batches', 'cancel', batch.id], env);
    expect(cancelled).toMatchObject({ code: EXIT.ok });
    // Its one child was cancelled before it started, or while it ran: finished now or soon.
    expect(cancelled.stdout).toMatch(new RegExp(`^${batch.id}  (sealed|finished)  `));
    const sealedAgain = await spillway(['batches', 'seal', batch.id, 'no-such-batch'], env);
    expect(sealedAgain.code).toBe(EXIT.apiError);
    expect(sealedAgain.stderr).toContain('no-such-batch: batch_not_found');
    const done = await spillway(['batches', 'show', batch.id, '--wait', '30'], env);
    expect(done.stdout).toContain('finished  1/1  succeeded 0  failed 0  cancelled 1');
  });
});
