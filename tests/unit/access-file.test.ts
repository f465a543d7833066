import { createHash } from 'node:crypto';
import {
  AccessFileError,
  keyDigest,
  parseAccessFile,
  parseAccessFiles,
} from '../../services/shared/tenancy/access-file';
import { SCOPES } from '../../services/shared/tenancy/scopes';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';

/** The problems a file has, or [] when it parses. */
function problemsOf(text: string): string[] {
  try {
    parseAccessFile(text);
    return [];
  } catch (err) {
    if (err instanceof AccessFileError) return err.problems;
    throw err;
  }
}

describe('the keys file', () => {
  it('reads tenants with their limits, and keys with their tenant and scopes', () => {
    const digestB = createHash('sha256').update(KEY_B).digest('hex');
    const access = parseAccessFile(
      [
        '# Spillway API keys',
        'tenant acme rate=200 burst=1000 max-queued=50000',
        'tenant globex\trate=2.5 max-running=10  # a comment after a space',
        'tenant unlimited rate=0',
        'tenant bursty spill-rate=50 spill-burst=500',
        'tenant steady spill-rate=0',
        `key acme ${KEY_A} tasks:submit,tasks:read`,
        `key globex sha256:${digestB} admin`,
        '',
      ].join('\n'),
    );
    expect([...access.tenants.values()]).toEqual([
      { name: 'default' },
      { name: 'acme', rate: { perSecond: 200, burst: 1000 }, maxQueued: 50000 },
      { name: 'globex', rate: { perSecond: 2.5, burst: 3 }, maxRunning: 10 },
      { name: 'unlimited', rate: { perSecond: 0, burst: 1 } },
      { name: 'bursty', spill: { perSecond: 50, burst: 500 } },
      // Its own "no spill", whatever TENANT_SPILL_RATE says.
      { name: 'steady', spill: { perSecond: 0, burst: 1 } },
    ]);
    expect(access.keys).toEqual([
      { digest: keyDigest(KEY_A), tenant: 'acme', scopes: new Set(['tasks:submit', 'tasks:read']) },
      // A digest stands for the key: the Secret need not hold it.
      { digest: keyDigest(KEY_B), tenant: 'globex', scopes: new Set(['admin']) },
    ]);
  });

  it('reads the file of before tenants: bare keys, by line or comma, of the default tenant with every scope', () => {
    const access = parseAccessFile(`${KEY_A}, ${KEY_B}\n#${KEY_A}x\nkey-with-#-inside-0123\n`);
    expect(access.keys.map((k) => k.tenant)).toEqual(['default', 'default', 'default']);
    expect(access.keys.map((k) => k.digest)).toEqual([
      keyDigest(KEY_A),
      keyDigest(KEY_B),
      keyDigest('key-with-#-inside-0123'),
    ]);
    expect(access.keys.every((k) => SCOPES.every((scope) => k.scopes.has(scope)))).toBe(true);
  });

  it.each([
    ['tenant Acme', 'line 1: tenant name "Acme" is not 1 to 63 lowercase letters, digits or dashes'],
    ['tenant', 'line 1: "tenant" needs a name'],
    ['tenant acme\ntenant acme', 'line 2: tenant "acme" is declared on line 1 too'],
    ['tenant acme rate=fast', 'line 1: rate "fast" is not a number of tasks per second from 0 to 1000000'],
    ['tenant acme burst=5', 'line 1: "burst" needs "rate"'],
    ['tenant acme rate=5 burst=0', 'line 1: burst "0" is not a whole number from 1 to 10000000'],
    ['tenant acme max-queued=-1', 'line 1: max-queued "-1" is not a whole number from 0 to 1000000000'],
    ['tenant acme rate=5 rate=6', 'line 1: "rate" is set twice'],
    [
      'tenant acme limit=5',
      'line 1: unknown setting "limit" (known: rate, burst, max-queued, max-running, spill-rate, spill-burst)',
    ],
    ['tenant acme spill-burst=5', 'line 1: "spill-burst" needs "spill-rate"'],
    [
      'tenant acme spill-rate=lots',
      'line 1: spill-rate "lots" is not a number of tasks per second from 0 to 1000000',
    ],
    [
      'tenant acme spill-rate=5 spill-burst=0',
      'line 1: spill-burst "0" is not a whole number from 1 to 10000000',
    ],
    ['tenant acme max-running=x', 'line 1: max-running "x" is not a whole number from 0 to 1000000'],
    ['tenant acme rate', 'line 1: "rate" is not a setting (name=value)'],
    [`key acme ${KEY_A} tasks:read`, 'line 1: tenant "acme" is not declared by a "tenant" line'],
    [`tenant acme\nkey acme ${KEY_A}`, 'line 2: "key" needs a tenant, a key and scopes (comma-separated)'],
    [
      `tenant acme\nkey acme ${KEY_A} tasks:write`,
      'line 2: unknown scope "tasks:write" (known: tasks:submit, tasks:read, tasks:cancel, dead-letters:read, dead-letters:replay, admin)',
    ],
    [`key default sha256:abc tasks:read`, 'line 1: a sha256: digest needs 64 hex digits'],
    ['short', 'line 1: the key is not 16 to 256 printable characters'],
    [`tenent acme`, 'line 1: starts with neither "tenant" nor "key", and is not a list of keys'],
    [`${KEY_A}\nkey default ${KEY_A} tasks:read`, 'line 2: the same key as line 1'],
  ])('refuses %j: %s', (text, problem) => {
    expect(problemsOf(text)).toEqual([problem]);
  });

  it("reports a tenant line's bad setting once, not again on each of its keys", () => {
    expect(problemsOf(`tenant acme rate=x\nkey acme ${KEY_A} tasks:read`)).toEqual([
      'line 1: rate "x" is not a number of tasks per second from 0 to 1000000',
    ]);
  });

  it('names every bad line in order, and never a key', () => {
    const secret = 'a-secret-key-that-is-long-enough';
    const problems = problemsOf(
      [
        'tenant acme',
        `key acme ${secret} nope`,
        'ok-key-0123456789abcdef',
        `key ghost ${secret}x tasks:read`,
      ].join('\n'),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^line 2: unknown scope "nope"/),
      'line 4: tenant "ghost" is not declared by a "tenant" line',
    ]);
    expect(problems.join('\n')).not.toContain(secret);
  });
});

describe('the keys file read with a tenants file (API_TENANTS_FILE, the chart’s values)', () => {
  const digestOf = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
  const problemsOfBoth = (tenants: string, keys: string): string[] => {
    try {
      parseAccessFiles([
        { name: 'API_TENANTS_FILE', text: tenants, digestsOnly: true },
        { name: 'API_KEYS_FILE', text: keys },
      ]);
      return [];
    } catch (err) {
      if (err instanceof AccessFileError) return err.problems;
      throw err;
    }
  };

  it('lets a tenant declared in one have its keys in the other, either way round', () => {
    const access = parseAccessFiles([
      {
        name: 'API_TENANTS_FILE',
        text: `tenant acme rate=200 max-running=5\nkey acme ${digestOf(KEY_A)} tasks:submit\ntenant globex`,
        digestsOnly: true,
      },
      { name: 'API_KEYS_FILE', text: `key globex ${KEY_B} tasks:read\ntenant initech\n` },
    ]);
    expect(access.tenants.get('acme')).toEqual({
      name: 'acme',
      rate: { perSecond: 200, burst: 200 },
      maxRunning: 5,
    });
    expect(access.tenants.has('initech')).toBe(true);
    expect(access.keys.map((k) => [k.tenant, [...k.scopes]])).toEqual([
      ['acme', ['tasks:submit']],
      ['globex', ['tasks:read']],
    ]);
    expect(access.keys[1]!.digest).toEqual(keyDigest(KEY_B));
  });

  it('refuses a key itself in the tenants file, which is not a Secret, without repeating it', () => {
    const problems = problemsOfBoth(`tenant acme\nkey acme ${KEY_A} tasks:read`, '');
    expect(problems).toEqual([
      'API_TENANTS_FILE line 2: keys here must be sha256:<64 hex digits> digests (this file is not a Secret)',
    ]);
    expect(problemsOfBoth(KEY_A, '')).toHaveLength(1);
  });

  it('names the file of each bad line, and a tenant or key declared in both', () => {
    expect(
      problemsOfBoth(`tenant acme\nkey acme ${digestOf(KEY_A)} tasks:read`, `tenant acme\n${KEY_A}`),
    ).toEqual([
      'API_TENANTS_FILE line 2: the same key as API_KEYS_FILE line 2',
      'API_KEYS_FILE line 1: tenant "acme" is declared on API_TENANTS_FILE line 1 too',
    ]);
  });
});
