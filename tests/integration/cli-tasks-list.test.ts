import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { EXIT } from '../../services/cli/exit-codes';
import { CLI, spillway } from '../helpers/cli';
import { request } from '../helpers/http';
import { freePort } from '../helpers/redis-server';
import { apiFor, workerFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

/**
 * `spillway tasks list` (GET /v1/tasks) and its `--watch` (GET /v1/events), the compiled CLI run
 * as its own process against the real API and worker (in-process) on the local Kafka and Redis.
 */
/** The watches started, killed after each test in case a failure left one running. */
const watching: ChildProcessWithoutNullStreams[] = [];

describe('spillway tasks list', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>>;
  const run = (args: string[]) => spillway(['tasks', 'list', ...args], { SPILLWAY_URL: api.url });
  const submit = async (task: object): Promise<string> => {
    const res = await request(api.url, 'POST', '/v1/tasks', { json: task });
    expect(res.status).toBe(202);
    return res.body.id;
  };
  const finished = (id: string) =>
    eventually(async () => {
      const task = (await request(api.url, 'GET', `/v1/tasks/${id}?wait=5`)).body;
      return ['succeeded', 'failed'].includes(task.status) ? task : undefined;
    });
  /** The tasks of the queue, oldest first, as submitted in beforeAll. */
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    api = await apiFor(queue);
    worker = await workerFor(queue);
    // One at a time: each is created after the one before, so newest-first has one answer.
    for (const [name, task] of Object.entries({
      user1: { type: 'echo', key: 'user-1' },
      user2: { type: 'echo', key: 'user-2' },
      order1: { type: 'echo', key: 'order-1' },
      boom: { type: 'fail', payload: { message: 'Boom in the pipes' }, maxAttempts: 1 },
      other: { type: 'fail', payload: { message: 'something else' }, maxAttempts: 1 },
    })) {
      ids[name] = await submit(task);
      await finished(ids[name]!);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }, 60_000);
  afterEach(() => {
    for (const child of watching.splice(0)) child.kill('SIGKILL');
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
  });

  const idsOf = (stdout: string) => [...stdout.matchAll(/^([0-9a-f-]{36}) /gm)].map((m) => m[1]);

  it('prints a table, newest first', async () => {
    const res = await run([]);
    expect(res).toMatchObject({ code: EXIT.ok, stderr: '' });
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+TYPE\s+TENANT\s+ATTEMPTS\s+CREATED\s+KEY\s+ERROR$/);
    expect(idsOf(res.stdout)).toEqual(
      [ids.other, ids.boom, ids.order1, ids.user2, ids.user1].map((id) => id!),
    );
    const boom = lines.find((l) => l.startsWith(ids.boom!))!;
    expect(boom).toMatch(/\sfailed\s+fail\s+default\s+1\s+\S+Z\s+-\s+Error: Boom in the pipes$/);
    expect(lines.find((l) => l.startsWith(ids.user1!))).toMatch(/\ssucceeded\s+echo\s.*\suser-1\s+-$/);
  });

  it('passes the filters on: status, type, key, id, text, time', async () => {
    expect(idsOf((await run(['--status', 'failed'])).stdout)).toEqual([ids.other, ids.boom]);
    expect(idsOf((await run(['--type', 'echo', '--key', 'user-'])).stdout)).toEqual([ids.user2, ids.user1]);
    expect(idsOf((await run(['--q', 'boom'])).stdout)).toEqual([ids.boom]);
    expect(idsOf((await run(['--id', ids.order1!.slice(0, 13)])).stdout)).toEqual([ids.order1]);
    const future = await run(['--since', new Date(Date.now() + 3_600_000).toISOString()]);
    expect(future).toMatchObject({ code: EXIT.ok, stdout: '', stderr: 'no tasks\n' });
    const bad = await run(['--status', 'finished']);
    expect(bad.code).toBe(EXIT.apiError);
    expect(bad.stderr).toMatch(/validation_failed[\s\S]*status:/);
  });

  it('prints one page of --limit with a hint, and every page with --all', async () => {
    const page = await run(['--limit', '2', '--type', 'echo']);
    expect(page.code).toBe(EXIT.ok);
    expect(idsOf(page.stdout)).toEqual([ids.order1, ids.user2]);
    const hint = /^more: spillway tasks list --type echo --cursor (\S+) \(or --all\)$/m.exec(page.stderr);
    expect(hint).not.toBeNull();
    const next = await run(['--limit', '2', '--type', 'echo', '--cursor', hint![1]!]);
    expect(idsOf(next.stdout)).toEqual([ids.user1]);

    const all = await run(['--limit', '2', '--all', '--json']);
    expect(all.code).toBe(EXIT.ok);
    const document = JSON.parse(all.stdout);
    expect(document.nextCursor).toBeNull();
    expect(document.items.map((t: { id: string }) => t.id)).toEqual(
      [ids.other, ids.boom, ids.order1, ids.user2, ids.user1].map((id) => id!),
    );
    expect(document.items[1]).toMatchObject({
      id: ids.boom,
      type: 'fail',
      status: 'failed',
      key: null,
      error: { name: 'Error', message: 'Boom in the pipes' },
    });
  });

  it('refuses list-only filters and bad numbers with --watch as usage errors', async () => {
    const both = await run(['--watch', '--q', 'boom', '--since', '2026-01-01T00:00:00Z']);
    expect(both.code).toBe(EXIT.usage);
    expect(both.stderr).toContain('--since, --q cannot be used with --watch');
    expect((await run(['--limit', '0'])).code).toBe(EXIT.usage);
  });

  it('--watch lists, then prints the changes of tasks submitted after it started, until SIGTERM', async () => {
    const watch = watchCli(['--watch', '--type', 'echo', '--limit', '1'], api.url);
    await watch.until(() => watch.stderr.includes('watching for changes'), 'the watch to start');
    expect(idsOf(watch.stdout)).toEqual([ids.order1]);
    const skipped = await submit({ type: 'sleep', payload: { ms: 1 } });
    const seen = await submit({ type: 'echo', key: 'watched' });
    await watch.until(
      () => new RegExp(`  ${seen}  succeeded  echo  default  watched$`, 'm').test(watch.stdout),
      'its success',
    );
    await finished(skipped);
    expect(watch.stdout).toMatch(new RegExp(`^\\S+Z  ${seen}  running    echo  default  watched$`, 'm'));
    expect(watch.stdout).not.toContain(skipped);
    expect(await watch.stop('SIGTERM')).toBe(EXIT.ok);
  });

  it('--watch --json prints the list, then one event per line', async () => {
    const watch = watchCli(['--watch', '--json', '--status', 'succeeded', '--limit', '1'], api.url);
    await watch.until(() => watch.stderr.includes('watching for changes'), 'the watch to start');
    const seen = await submit({ type: 'echo' });
    await watch.until(() => watch.stdout.includes(`"id":"${seen}"`), 'the event');
    const [list, ...events] = splitJson(watch.stdout);
    expect(list).toMatchObject({ items: [{ status: 'succeeded' }], nextCursor: expect.any(String) });
    expect(events).toEqual([
      { id: seen, type: 'echo', tenant: 'default', status: 'succeeded', at: expect.any(String), key: null },
    ]);
    expect(await watch.stop('SIGINT')).toBe(EXIT.ok);
  });

  it('--watch opens the stream again after the API goes away and comes back', async () => {
    const port = await freePort();
    let second = await apiFor(queue, { PORT: String(port) });
    const watch = watchCli(['--watch', '--limit', '1'], second.url);
    try {
      await watch.until(() => watch.stderr.includes('watching for changes'), 'the watch to start');
      await second.stop();
      await watch.until(() => watch.stderr.includes('reconnecting in 2 s'), 'the drop noted');
      second = await apiFor(queue, { PORT: String(port) });
      // The stream is open again once a task submitted now is seen.
      const seen = await eventually(async () => {
        const id = await submit({ type: 'echo' });
        await finished(id);
        return watch.stdout.includes(`  ${id}  succeeded`) ? id : undefined;
      }, 30_000);
      expect(watch.stdout).toContain(seen);
      expect(await watch.stop('SIGTERM')).toBe(EXIT.ok);
    } finally {
      await second.stop();
    }
  }, 90_000);
});

/** `spillway tasks list <args>` left running: its output so far, and a way to stop it. */
function watchCli(args: string[], url: string) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [CLI, 'tasks', 'list', ...args], {
    env: { PATH: process.env.PATH, SPILLWAY_URL: url },
  });
  watching.push(child);
  const state = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))),
    until: async (probe: () => boolean, what: string, timeoutMs = 20_000) => {
      await eventually(async () => (probe() ? true : undefined), timeoutMs, what).catch((err: Error) => {
        throw new Error(`${err.message}\nstdout: ${state.stdout}\nstderr: ${state.stderr}`);
      });
    },
    stop: async (signal: NodeJS.Signals) => {
      child.kill(signal);
      return state.exited;
    },
  };
  child.stdout.on('data', (chunk: Buffer) => (state.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (state.stderr += chunk.toString()));
  return state;
}

/** A stream of JSON values (a pretty-printed document, then one per line) as values. */
function splitJson(text: string): unknown[] {
  const values: unknown[] = [];
  let rest = text.trim();
  while (rest) {
    // The document ends at the first line that is only "}", each later value at its line's end.
    const end =
      values.length === 0 ? rest.indexOf('\n}') + 2 : (rest.indexOf('\n') + 1 || rest.length + 1) - 1;
    values.push(JSON.parse(rest.slice(0, end)));
    rest = rest.slice(end).trim();
  }
  return values;
}
