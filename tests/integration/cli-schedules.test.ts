import { EXIT } from '../../services/cli/exit-codes';
import { spillway } from '../helpers/cli';
import { apiFor } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';

/**
 * `spillway schedules list|add|pause|resume|rm` of the compiled CLI, each run as its own process,
 * against the real API on the local Kafka and Redis. Firing is tested in schedule-ticks.test.ts.
 */
describe('spillway schedules', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  let env: Record<string, string>;
  const run = (args: string[]) => spillway(args, env);

  beforeAll(async () => {
    api = await apiFor(queue);
    env = { SPILLWAY_URL: api.url };
  });
  afterAll(() => api.stop());

  it('adds a cron schedule in a time zone and an interval one, and lists both', async () => {
    const none = await run(['schedules', 'list']);
    expect(none).toMatchObject({ code: EXIT.ok, stdout: '', stderr: 'no schedules\n' });

    const cron = await run([
      'schedules',
      'add',
      'echo',
      '{"report":"daily"}',
      '--cron',
      '0 9 * * 1-5',
      '--tz',
      'Europe/Berlin',
      '--missed',
      'catch-up',
      '--max-catch-up',
      '2',
    ]);
    expect(cron).toMatchObject({ code: EXIT.ok, stderr: '' });
    const cronId = cron.stdout.trim();
    expect(cronId).toMatch(/^[0-9a-f-]{36}$/);
    const every = await run([
      'schedules',
      'add',
      'sleep',
      '{"ms":1}',
      '--every-ms',
      '60000',
      '--priority',
      'low',
      '--json',
    ]);
    expect(every.code).toBe(EXIT.ok);
    const interval = JSON.parse(every.stdout);
    expect(interval).toMatchObject({
      intervalMs: 60_000,
      task: { type: 'sleep', priority: 'low' },
      state: 'active',
    });

    const listed = await run(['schedules', 'list']);
    expect(listed.code).toBe(EXIT.ok);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+WHEN\s+TYPE\s+MISSED\s+NEXT\s+LAST TICK$/);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^${cronId}\\s+active\\s+cron 0 9 \\* \\* 1-5 Europe/Berlin\\s+echo\\s+catch-up 2\\s+\\S+Z\\s+-$`,
        'm',
      ),
    );
    expect(listed.stdout).toMatch(
      new RegExp(`^${interval.id}\\s+active\\s+every 60s\\s+sleep\\s+skip\\s`, 'm'),
    );

    const json = JSON.parse((await run(['schedules', 'list', '--json'])).stdout);
    expect(json.items.map((s: { id: string }) => s.id)).toEqual([cronId, interval.id]);
    expect(json.items[0].nextFireTimes).toHaveLength(5);
  });

  it('pauses, resumes and removes schedules by id', async () => {
    const id = (await run(['schedules', 'add', 'echo', '--every-ms', '5000'])).stdout.trim();
    expect(await run(['schedules', 'pause', id])).toMatchObject({ code: EXIT.ok, stdout: `${id}  paused\n` });
    expect((await run(['schedules', 'list'])).stdout).toMatch(
      new RegExp(`^${id}\\s+paused\\s.*\\s-\\s+-$`, 'm'),
    );
    expect(await run(['schedules', 'resume', id])).toMatchObject({
      code: EXIT.ok,
      stdout: `${id}  active\n`,
    });
    expect(await run(['schedules', 'rm', id])).toMatchObject({ code: EXIT.ok, stdout: `${id}  deleted\n` });
    // Gone: each command reports it in its place and exits 4.
    for (const verb of ['pause', 'resume', 'rm']) {
      const again = await run(['schedules', verb, id]);
      expect(again.code).toBe(EXIT.apiError);
      expect(again.stderr).toContain('schedule_not_found');
    }
    expect((await run(['schedules', 'list', '--json'])).stdout).not.toContain(id);
  });

  it('refuses bad input: a usage error before sending, the API naming the field after', async () => {
    const neither = await run(['schedules', 'add', 'echo']);
    expect(neither.code).toBe(EXIT.usage);
    expect(neither.stderr).toContain('--cron or --every-ms');
    expect((await run(['schedules', 'add', 'echo', '--cron', '* * * * *', '--every-ms', '1000'])).code).toBe(
      EXIT.usage,
    );
    expect((await run(['schedules', 'add'])).code).toBe(EXIT.usage);

    const badZone = await run(['schedules', 'add', 'echo', '--cron', '* * * * *', '--tz', 'Mars/Olympus']);
    expect(badZone.code).toBe(EXIT.apiError);
    expect(badZone.stderr).toMatch(/validation_failed[\s\S]*timeZone: /);
    const badCron = await run(['schedules', 'add', 'echo', '--cron', '61 * * * *']);
    expect(badCron.stderr).toMatch(/cron: not a cron expression/);
  });
});
