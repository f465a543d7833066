import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { runCli } from '../../services/cli/cli';
import { EXIT } from '../../services/cli/exit-codes';
import { spillway } from '../helpers/cli';
import { freePort } from '../helpers/redis-server';
import { apiFor, workerFor } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';

/**
 * The task commands of the compiled `spillway` CLI, each run as its own process, against the
 * real API and worker (in-process) on the local Kafka and Redis.
 */
describe('spillway CLI against the local stack', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>>;
  let env: Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), 'spillway-cli-'));
  const run = (args: string[], input?: string) => spillway(args, env, input);
  const json = (stdout: string) => JSON.parse(stdout);

  beforeAll(async () => {
    api = await apiFor(queue);
    worker = await workerFor(queue, { RETRY_BASE_DELAY_MS: '50', RETRY_MAX_DELAY_MS: '100' });
    env = { SPILLWAY_URL: api.url };
  });
  afterAll(async () => {
    await worker.stop();
    await api.stop();
  });

  describe('submit, get and wait', () => {
    it('submits from arguments, prints the id, and wait and get show the result', async () => {
      const submitted = await run(['submit', 'echo', '{"a":1}']);
      expect(submitted).toMatchObject({ code: EXIT.ok, stderr: '' });
      const id = submitted.stdout.trim();
      expect(id).toMatch(/^[0-9a-f-]{36}$/);

      const waited = await run(['wait', id]);
      expect(waited.code).toBe(EXIT.ok);
      expect(waited.stdout).toMatch(new RegExp(`^${id}\\s+succeeded\\s+\\{"a":1\\}\\n$`));

      const got = await run(['get', id, '--json']);
      expect(got.code).toBe(EXIT.ok);
      expect(json(got.stdout)).toMatchObject({ id, type: 'echo', status: 'succeeded', result: { a: 1 } });
      const human = await run(['get', id]);
      expect(human.stdout).toMatch(/^status\s+succeeded$/m);
      expect(human.stdout).toMatch(/^result\s+\{"a":1\}$/m);
    });

    it('passes the task options through (--key, --delay-ms, --max-attempts) and --json prints the answer', async () => {
      const res = await run(['submit', 'echo', '"x"', '--key', 'k1', '--delay-ms', '60000', '--json']);
      expect(res.code).toBe(EXIT.ok);
      const accepted = json(res.stdout);
      expect(accepted).toMatchObject({ type: 'echo', status: 'scheduled' });
      expect(Date.parse(accepted.runAt) - Date.parse(accepted.createdAt)).toBeGreaterThanOrEqual(59_000);
      // A scheduled task has not finished: waiting a second times out (5), then it can be cancelled.
      expect((await run(['wait', accepted.id, '--timeout', '1'])).code).toBe(EXIT.timeout);
      const cancelled = await run(['cancel', accepted.id]);
      expect(cancelled).toMatchObject({ code: EXIT.ok, stdout: `${accepted.id}  cancelled\n` });
      const again = await run(['cancel', accepted.id]);
      expect(again.code).toBe(EXIT.apiError);
      expect(again.stderr).toContain('task_finished');
      // wait: a cancelled task counts as not succeeded.
      expect((await run(['wait', accepted.id])).code).toBe(EXIT.taskFailed);
    });

    it('submits a file in batches, rejects bad lines by number, and wait reads the ids from stdin', async () => {
      const file = join(dir, 'tasks.jsonl');
      writeFileSync(
        file,
        ['{"type":"echo","payload":1}', '', '{"type":"echo","payload":2}', '{"type":"bad type"}', ''].join(
          '\n',
        ),
      );
      const res = await run(['submit', '--file', file, '--batch-size', '2']);
      expect(res.code).toBe(EXIT.apiError); // one task rejected
      const ids = res.stdout.trim().split('\n');
      expect(ids).toHaveLength(2);
      expect(res.stderr).toContain(`${file}:4: rejected: validation_failed`);
      expect(res.stderr).toContain('type: 1 to 128 characters');
      expect(res.stderr).toContain('submitted 2 of 3 tasks, 1 rejected');

      const waited = await run(['wait', '--json'], res.stdout);
      expect(waited.code).toBe(EXIT.ok);
      expect(json(waited.stdout).map((t: { id: string; result: unknown }) => [t.id, t.result])).toEqual([
        [ids[0], 1],
        [ids[1], 2],
      ]);
    });

    it('submits many tasks piped on stdin, in batch requests, with the defaults from the options', async () => {
      const lines = Array.from({ length: 1203 }, (_, i) => JSON.stringify({ type: 'echo', payload: i }));
      const res = await run(['submit', '--max-attempts', '2', '--json'], lines.join('\n'));
      expect(res.code).toBe(EXIT.ok);
      const body = json(res.stdout);
      expect(body).toMatchObject({ accepted: 1203, rejected: 0 });
      const ids: string[] = body.results.map((r: { id: string }) => r.id);
      expect(new Set(ids).size).toBe(1203);

      const waited = await run(['wait', '--json', '--timeout', '60', ...ids.slice(-50)]);
      expect(waited.code).toBe(EXIT.ok);
      const records = json(waited.stdout);
      expect(records.map((t: { result: number }) => t.result)).toEqual(
        Array.from({ length: 50 }, (_, i) => 1153 + i),
      );
    });

    it('exits 1 when a task failed, and the dead letter can be listed and replayed once', async () => {
      const id = (await run(['submit', 'fail', '{"message":"boom"}', '--max-attempts', '1'])).stdout.trim();
      const waited = await run(['wait', id]);
      expect(waited.code).toBe(EXIT.taskFailed);
      expect(waited.stdout).toMatch(new RegExp(`^${id}\\s+failed\\s+Error: boom`));

      const listed = await run(['dead-letters', 'list', '--json', '--limit', '200']);
      expect(listed.code).toBe(EXIT.ok);
      const entry = json(listed.stdout).items.find((d: { id: string }) => d.id === id);
      expect(entry).toMatchObject({ reason: 'attempts-exhausted', task: { type: 'fail' }, replayedAs: null });
      const human = await run(['dead-letters', 'list']);
      expect(human.stdout).toMatch(/^ID\s+REASON\s+DEAD AT/);
      expect(human.stdout).toMatch(
        new RegExp(`^${id}\\s+attempts-exhausted\\s+\\S+\\s+fail\\s+1\\s+-\\s+Error: boom`, 'm'),
      );

      const replayed = await run(['dead-letters', 'replay', id]);
      expect(replayed.code).toBe(EXIT.ok);
      const [deadId, newId] = replayed.stdout.trim().split(/\s+/);
      expect(deadId).toBe(id);
      expect(newId).not.toBe(id);
      const twice = await run(['dead-letters', 'replay', id, '--json']);
      expect(twice.code).toBe(EXIT.apiError);
      expect(json(twice.stdout)).toEqual([
        { id, error: { code: 'already_replayed', message: expect.stringContaining(newId!) } },
      ]);
    });

    it('exits 4 with the API error for an unknown task', async () => {
      const res = await run(['get', 'no-such-task']);
      expect(res).toMatchObject({ code: EXIT.apiError, stdout: '' });
      expect(res.stderr).toBe('spillway: API error 404 task_not_found: no task with id "no-such-task"\n');
      expect((await run(['wait', 'no-such-task'])).code).toBe(EXIT.apiError);
    });
  });

  it('stats: counts, oldest wait and lag per partition, as JSON and as text', async () => {
    const res = await run(['stats', '--json']);
    expect(res.code).toBe(EXIT.ok);
    const body = json(res.stdout);
    expect(body.counts.succeeded).toBeGreaterThan(0);
    // Three partitions in each lane.
    expect(body.lag.partitions.map((p: { lane: string }) => p.lane).sort()).toEqual(
      ['high', 'low', 'normal', 'overflow'].flatMap((lane) => Array(3).fill(lane)),
    );
    expect(Object.keys(body.lag.byLane).sort()).toEqual(['high', 'low', 'normal', 'overflow']);
    const human = await run(['stats']);
    expect(human.stdout).toMatch(/^finished\s+succeeded \d+ {2}failed \d+ {2}cancelled \d+$/m);
    expect(human.stdout).toMatch(/^LANE\s+PARTITION\s+LAG\s+COMMITTED\s+LATEST$/m);
  });

  describe('exit codes for what went wrong', () => {
    it('3 when the API is unreachable, naming it and how to point at it', async () => {
      const url = `http://127.0.0.1:${await freePort()}`;
      const res = await spillway(['stats'], { SPILLWAY_URL: url });
      expect(res.code).toBe(EXIT.unreachable);
      expect(res.stderr).toBe(
        `spillway: API ${url} unreachable (ECONNREFUSED): start it (npm run dev) or point --url or SPILLWAY_URL at it\n`,
      );
      // --url wins over SPILLWAY_URL.
      expect((await spillway(['stats', '--url', api.url], { SPILLWAY_URL: url })).code).toBe(EXIT.ok);
    });

    it.each([
      [['frob'], /unknown command "frob"/],
      [['submit', 'echo', '--frob'], /Unknown option '--frob'/],
      [['submit', 'echo', '{not json'], /the payload is not JSON/],
      [['submit', 'echo', '--delay-ms', 'soon'], /--delay-ms "soon" is not valid/],
      // The API's bounds (services/shared/task-limits.ts), checked before anything is sent.
      [
        ['submit', 'echo', '--max-attempts', '101'],
        /--max-attempts "101" is not valid: expected an integer from 1 to 100/,
      ],
      [['submit', 'echo', '--timeout-ms', '86400001'], /--timeout-ms "86400001" is not valid/],
      [['submit', 'echo', '--delay-ms', '2592000001'], /--delay-ms "2592000001" is not valid/],
      [['submit'], /no tasks in stdin/],
      [['get'], /get takes one task id/],
      [
        ['wait', 'x', '--timeout', '-1'],
        /Option '--timeout' argument is ambiguous|--timeout "-1" is not valid/,
      ],
      [['stats', '--url', 'localhost:8080'], /--url "localhost:8080" is not valid/],
      [
        ['dead-letters', 'bury'],
        /unknown command "dead-letters bury"; one of: dead-letters list, dead-letters replay/,
      ],
    ])('2 for a usage error: %j', async (args, message) => {
      const res = await run(args);
      expect(res.code).toBe(EXIT.usage);
      expect(res.stderr).toMatch(message);
      expect(res.stdout).toBe('');
    });

    it('0 with the help text, for the CLI and for each command', async () => {
      const all = await run(['--help']);
      expect(all.code).toBe(EXIT.ok);
      expect(all.stdout).toContain('Exit codes: 0 ok; 1 a task failed');
      const submit = await run(['submit', '--help']);
      expect(submit.stdout).toContain('spillway submit --file tasks.jsonl');
    });

    it('4 with a hint when the API wants a key, and the key from SPILLWAY_API_KEY is sent', async () => {
      const key = 'cli-test-key-0123456789';
      const locked = await apiFor(queue, { API_KEYS: key });
      try {
        const without = await spillway(['stats'], { SPILLWAY_URL: locked.url });
        expect(without.code).toBe(EXIT.apiError);
        expect(without.stderr).toContain('401 unauthorized');
        expect(without.stderr).toContain('set SPILLWAY_API_KEY');
        const withKey = await spillway(['stats'], { SPILLWAY_URL: locked.url, SPILLWAY_API_KEY: key });
        expect(withKey.code).toBe(EXIT.ok);
      } finally {
        await locked.stop();
      }
    });

    it("4 naming the scope when the key's scopes do not allow the command", async () => {
      const key = 'cli-submit-only-0123456789';
      const dir = mkdtempSync(join(tmpdir(), 'spillway-cli-keys-'));
      writeFileSync(join(dir, 'keys'), `tenant acme\nkey acme ${key} tasks:submit\n`);
      const scoped = await apiFor(queue, { API_KEYS_FILE: join(dir, 'keys') });
      try {
        const refused = await spillway(['stats'], { SPILLWAY_URL: scoped.url, SPILLWAY_API_KEY: key });
        expect(refused.code).toBe(EXIT.apiError);
        expect(refused.stderr).toContain('403 missing_scope: this API key lacks the scope "admin"');
        expect(refused.stderr).toContain('docs/tenants.md#scopes');
      } finally {
        await scoped.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('progress bar', () => {
    /** runCli in-process with a stderr that says it is a terminal. */
    async function inTerminal(args: string[], input = '') {
      let stdout = '';
      let stderr = '';
      const code = await runCli(args, env, {
        stdin: Object.assign(Readable.from([input]), { isTTY: false }),
        stdout: { write: (text: string) => (stdout += text) },
        stderr: { write: (text: string) => (stderr += text), isTTY: true },
      });
      return { code, stdout, stderr };
    }

    it('draws on stderr for bulk submission and for wait on many ids when stderr is a terminal', async () => {
      const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ type: 'echo', payload: i }));
      const submitted = await inTerminal(['submit', '--batch-size', '10'], lines.join('\n'));
      expect(submitted.code).toBe(EXIT.ok);
      expect(submitted.stderr).toContain('\rsubmitting [------------------------------] 0/30');
      expect(submitted.stderr).toContain('\rsubmitting [##############################] 30/30');
      const ids = submitted.stdout.trim().split('\n');
      expect(ids).toHaveLength(30);

      const waited = await inTerminal(['wait', ...ids]);
      expect(waited.code).toBe(EXIT.ok);
      expect(waited.stderr).toContain('\rwaiting [##############################] 30/30');
      // The bar is cleared at the end, and stdout holds only the results.
      expect(waited.stderr.endsWith('\r\x1b[K')).toBe(true);
      expect(waited.stdout.trim().split('\n')).toHaveLength(30);
    });

    it('is not drawn with --json or when stderr is not a terminal', async () => {
      const submitted = await inTerminal(['submit', '--json'], '{"type":"echo"}\n');
      expect(submitted.stderr).toBe('');
      const piped = await run(['submit'], '{"type":"echo"}\n');
      expect(piped.stderr).not.toContain('[');
    });
  });
});
