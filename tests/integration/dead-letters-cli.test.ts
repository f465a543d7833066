import Redis from 'ioredis';
import { Readable } from 'node:stream';
import { runCli } from '../../services/cli/cli';
import { EXIT } from '../../services/cli/exit-codes';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { RedisKeys } from '../../services/shared/redis/keys';
import { spillway } from '../helpers/cli';
import { deadLetter, poisonLetter } from '../helpers/dead-letters';
import { deleteMatching } from '../helpers/redis-keys';
import { apiFor } from '../helpers/services';
import { REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * `spillway dead-letters replay|discard --all-matching` and `list --reason/--type` against the
 * real API: the count is shown and confirmed before anything is done, unless --yes; without a
 * terminal to ask on, --yes is required.
 */
describe('spillway dead-letters, filtered and in bulk', () => {
  const queue = uniqueQueue();
  const raw = new Redis(REDIS_URL);
  const store = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  let api: Awaited<ReturnType<typeof apiFor>>;
  let env: Record<string, string>;
  const now = Date.now();
  const emails = [0, 1, 2].map((i) => deadLetter(now - 100 + i, {}, { type: 'email' }));
  const fails = [0, 1].map((i) => deadLetter(now - 200 + i, { reason: 'non-retriable' }));
  const poison = poisonLetter(now);

  /** runCli in-process with a stdin that says it is a terminal, holding `answer`. */
  async function atTerminal(args: string[], answer: string) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, env, {
      stdin: Object.assign(Readable.from([answer]), { isTTY: true }),
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    });
    return { code, stdout, stderr };
  }
  const replayedAs = async () => (await store.getMany(emails.map((e) => e.id))).map((e) => e?.replayedAs);

  beforeAll(async () => {
    api = await apiFor(queue);
    env = { SPILLWAY_URL: api.url };
    for (const entry of [...emails, ...fails, poison]) await store.add(entry);
  });
  afterAll(async () => {
    await api.stop();
    await store.close();
    await deleteMatching(raw, `${new RedisKeys(queue).prefix}*`);
    await raw.quit();
  });

  it('lists by reason and type', async () => {
    const byType = await spillway(['dead-letters', 'list', '--type', 'email', '--json'], env);
    expect(byType.code).toBe(EXIT.ok);
    expect(JSON.parse(byType.stdout).items.map((d: { id: string }) => d.id)).toEqual(
      emails.map((e) => e.id).reverse(),
    );
    const byReason = await spillway(['dead-letters', 'list', '--reason', 'poison'], env);
    expect(byReason.stdout).toMatch(new RegExp(`^${poison.id}\\s+poison\\s`, 'm'));
    expect(byReason.stdout.trim().split('\n')).toHaveLength(2);
    const bad = await spillway(['dead-letters', 'list', '--reason', 'sad'], env);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain('--reason "sad" is not valid');
  });

  it('refuses to act without --yes when stdin is not a terminal, and counts with --dry-run', async () => {
    const refused = await spillway(['dead-letters', 'replay', '--all-matching', '--type', 'email'], env);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain('replay 3 dead letters (type email)?');
    expect(refused.stderr).toContain('--yes');
    const dry = await spillway(
      ['dead-letters', 'replay', '--all-matching', '--type', 'email', '--dry-run'],
      env,
    );
    expect(dry).toMatchObject({ code: EXIT.ok, stdout: '3 dead letters match\n' });
    expect(await replayedAs()).toEqual([undefined, undefined, undefined]);
    // Filter options belong to --all-matching.
    const stray = await spillway(['dead-letters', 'replay', emails[0]!.id, '--type', 'email'], env);
    expect(stray.code).toBe(EXIT.usage);
  });

  it('asks with the count at a terminal: no does nothing, yes replays them', async () => {
    const declined = await atTerminal(['dead-letters', 'replay', '--all-matching', '--type', 'email'], 'n\n');
    expect(declined.code).toBe(EXIT.ok);
    expect(declined.stderr).toContain('replay 3 dead letters (type email)? [y/N] ');
    expect(declined.stderr).toContain('nothing done');
    expect(await replayedAs()).toEqual([undefined, undefined, undefined]);

    const accepted = await atTerminal(['dead-letters', 'replay', '--all-matching', '--type', 'email'], 'y\n');
    expect(accepted.code).toBe(EXIT.ok);
    expect(accepted.stdout).toBe(
      'replayed 3 of 3 matched: 0 already replayed, 0 not replayable (poison), 0 failed\n',
    );
    expect((await replayedAs()).every((id) => typeof id === 'string')).toBe(true);
  });

  it('with --yes, acts without asking; a repeat replays nothing again', async () => {
    const again = await spillway(
      ['dead-letters', 'replay', '--all-matching', '--type', 'email', '--yes'],
      env,
    );
    expect(again).toMatchObject({
      code: EXIT.ok,
      stdout: 'replayed 0 of 3 matched: 3 already replayed, 0 not replayable (poison), 0 failed\n',
    });
    const discarded = await spillway(
      ['dead-letters', 'discard', '--all-matching', '--reason', 'poison', '--yes', '--json'],
      env,
    );
    expect(discarded.code).toBe(EXIT.ok);
    expect(JSON.parse(discarded.stdout)).toEqual({ matched: 1, discarded: 1 });
    expect(await store.get(poison.id)).toBeUndefined();
  });

  it('discards by id, one line each, exit 4 for one that is gone', async () => {
    const res = await spillway(['dead-letters', 'discard', fails[0]!.id], env);
    expect(res).toMatchObject({ code: EXIT.ok, stdout: `${fails[0]!.id}  discarded\n` });
    const twice = await spillway(['dead-letters', 'discard', fails[0]!.id, fails[1]!.id], env);
    expect(twice.code).toBe(EXIT.apiError);
    expect(twice.stdout).toBe(`${fails[1]!.id}  discarded\n`);
    expect(twice.stderr).toContain(`${fails[0]!.id}: dead_letter_not_found`);
  });
});
