import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { apiFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';

describe('API keys', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  beforeAll(async () => (api = await apiFor(queue, { API_KEYS: `${KEY_A},${KEY_B}` })));
  afterAll(() => api.stop());

  const submit = (headers: Record<string, string>, path = '/v1/tasks') =>
    request(api.url, 'POST', path, { json: { type: 'echo' }, headers });

  it.each([
    ['no key', {}],
    ['a malformed header', { authorization: `Basic ${KEY_A}` }],
    ['a bearer with nothing after it', { authorization: 'Bearer ' }],
    ['a wrong key', { authorization: 'Bearer key-c-0123456789abcdef' }],
    ['a key that is a prefix of a real one', { authorization: 'Bearer key-a-0123' }],
    ['a key with something appended', { authorization: `Bearer ${KEY_A}x` }],
    ['two spaces before the key', { authorization: `Bearer  ${KEY_A}` }],
    ['a key followed by more words', { authorization: `Bearer ${KEY_A} ${KEY_B}` }],
    ['two keys separated by a comma', { authorization: `Bearer ${KEY_A},${KEY_B}` }],
    ['a tab instead of a space', { authorization: `Bearer\t${KEY_A}` }],
    ['a quoted key', { authorization: `Bearer "${KEY_A}"` }],
    ['another scheme', { authorization: `Token ${KEY_A}` }],
    ['the key without a scheme', { authorization: KEY_A }],
    ['the scheme alone', { authorization: 'Bearer' }],
    ['garbage', { authorization: '%%%\u00ff\u00fe;;' }],
    ['the key in another header', { 'x-api-key': KEY_A }],
  ])('refuses %s with 401', async (_name, headers) => {
    const res = await submit(headers);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="spillway"/);
  });

  it('does not read keys from the query string', async () => {
    for (const param of ['api_key', 'apiKey', 'key', 'token', 'access_token', 'authorization']) {
      const res = await submit({}, `/v1/tasks?${param}=${KEY_A}`);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
      expect((await request(api.url, 'GET', `/v1/stats?${param}=${KEY_A}`)).status).toBe(401);
    }
    // Nor does a key there rescue a wrong header.
    expect(
      (await submit({ authorization: 'Bearer key-c-0123456789abcdef' }, `/v1/tasks?key=${KEY_A}`)).status,
    ).toBe(401);
  });

  it('takes the scheme in any case', async () => {
    expect((await submit({ authorization: `bearer ${KEY_A}` })).status).toBe(202);
    expect((await submit({ authorization: `BEARER ${KEY_B}` })).status).toBe(202);
  });

  it('accepts every configured key on every /v1 route', async () => {
    for (const key of [KEY_A, KEY_B]) {
      const auth = { authorization: `Bearer ${key}` };
      const res = await submit(auth);
      expect(res.status).toBe(202);
      expect((await request(api.url, 'GET', `/v1/tasks/${res.body.id}`, { headers: auth })).status).toBe(200);
      expect((await request(api.url, 'GET', '/v1/stats', { headers: auth })).status).toBe(200);
    }
  });

  it('keeps probes, metrics and the API description open', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      expect((await request(api.url, 'GET', path)).status).toBe(200);
    }
  });

  it('scopes Idempotency-Keys to the API key (API_KEYS keys, as before tenants)', async () => {
    const body = { type: 'echo', payload: 'same' };
    const a = await request(api.url, 'POST', '/v1/tasks', {
      json: body,
      headers: { authorization: `Bearer ${KEY_A}`, 'idempotency-key': 'shared' },
    });
    const b = await request(api.url, 'POST', '/v1/tasks', {
      json: body,
      headers: { authorization: `Bearer ${KEY_B}`, 'idempotency-key': 'shared' },
    });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it('refuses a key once it is removed from API_KEYS (revoked on restart)', async () => {
    const revoked = await apiFor(queue, { API_KEYS: KEY_B });
    try {
      const res = await request(revoked.url, 'POST', '/v1/tasks', {
        json: { type: 'echo' },
        headers: { authorization: `Bearer ${KEY_A}` },
      });
      expect(res.status).toBe(401);
    } finally {
      await revoked.stop();
    }
  });
});

describe('without API keys', () => {
  it('serves /v1 to anyone (the local default; the chart turns keys on)', async () => {
    const api = await apiFor(uniqueQueue());
    try {
      expect((await request(api.url, 'POST', '/v1/tasks', { json: { type: 'echo' } })).status).toBe(202);
    } finally {
      await api.stop();
    }
  });
});

/** Replaces a file the way the kubelet updates a mounted Secret: a new file renamed over it. */
function replaceFile(file: string, text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

/** The status of an `echo` submission with `key`. */
async function statusWith(url: string, key: string): Promise<number> {
  const res = await request(url, 'POST', '/v1/tasks', {
    json: { type: 'echo' },
    headers: { authorization: `Bearer ${key}` },
  });
  return res.status;
}

describe('API_KEYS_FILE', () => {
  const KEY_C = 'key-c-0123456789abcdef';
  const KEY_D = 'key-d-0123456789abcdef';
  const dir = mkdtempSync(join(tmpdir(), 'spillway-keys-'));
  const file = join(dir, 'api-keys');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const writeKeys = (text: string) => replaceFile(file, text);
  const becomes = (url: string, key: string, status: number) =>
    eventually(async () => ((await statusWith(url, key)) === status ? true : undefined), 5000, `${status}`);

  it('accepts its keys, and revokes or adds keys while the API runs, without a restart', async () => {
    writeKeys(`${KEY_A}\n${KEY_B}\n`);
    const api = await apiFor(uniqueQueue(), { API_KEYS_FILE: file, API_KEYS_RELOAD_MS: '100' });
    try {
      expect(await statusWith(api.url, KEY_A)).toBe(202);
      expect(await statusWith(api.url, KEY_B)).toBe(202);
      expect(await statusWith(api.url, KEY_C)).toBe(401);

      writeKeys(`${KEY_B}\n`); // KEY_A revoked
      await becomes(api.url, KEY_A, 401);
      expect(await statusWith(api.url, KEY_B)).toBe(202);

      writeKeys(`${KEY_B},${KEY_C}`); // commas separate too, as in a Secret made for API_KEYS
      await becomes(api.url, KEY_C, 202);
      expect(await statusWith(api.url, KEY_A)).toBe(401);

      // Revoking every key locks the API; it never turns auth off.
      writeKeys('');
      await becomes(api.url, KEY_B, 401);
      expect((await request(api.url, 'POST', '/v1/tasks', { json: { type: 'echo' } })).status).toBe(401);
    } finally {
      await api.stop();
    }
  });

  it('adds to API_KEYS; a file that disappears revokes its own keys only', async () => {
    writeKeys(KEY_C);
    const api = await apiFor(uniqueQueue(), {
      API_KEYS: KEY_D,
      API_KEYS_FILE: file,
      API_KEYS_RELOAD_MS: '100',
    });
    try {
      expect(await statusWith(api.url, KEY_C)).toBe(202);
      expect(await statusWith(api.url, KEY_D)).toBe(202);
      rmSync(file);
      await becomes(api.url, KEY_C, 401);
      expect(await statusWith(api.url, KEY_D)).toBe(202);
    } finally {
      await api.stop();
    }
  });

  it('keeps the last good file in force when a later one has a bad line', async () => {
    writeKeys(KEY_A);
    const api = await apiFor(uniqueQueue(), { API_KEYS_FILE: file, API_KEYS_RELOAD_MS: '100' });
    try {
      writeKeys(`short\n${KEY_B}\n`);
      // Half an edit must not lock anyone out: the file read before stays in force, whole.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await statusWith(api.url, KEY_A)).toBe(202);
      expect(await statusWith(api.url, KEY_B)).toBe(401);
      // Once mended, the new file takes over.
      writeKeys(`${KEY_B}\n`);
      await becomes(api.url, KEY_B, 202);
      expect(await statusWith(api.url, KEY_A)).toBe(401);
    } finally {
      await api.stop();
    }
  });

  it('refuses to start on a missing file or one with a bad key, naming the variable but no key', async () => {
    await expect(apiFor(uniqueQueue(), { API_KEYS_FILE: join(dir, 'nope') })).rejects.toThrow(
      /API_KEYS_FILE=.*nope cannot be read: ENOENT/,
    );
    writeKeys(`${KEY_A}\ntoo-short-key\n`);
    const failure: Error = await apiFor(uniqueQueue(), { API_KEYS_FILE: file }).then(
      async (api) => {
        await api.stop();
        throw new Error('the API started');
      },
      (err: Error) => err,
    );
    expect(failure.message).toMatch(
      /API_KEYS_FILE=.*: line 2: the key is not 16 to 256 printable characters/,
    );
    expect(failure.message).not.toContain('too-short-key');
  });
});

describe('API_TENANTS_FILE (tenants declared in the chart’s values, beside the keys’ Secret)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-tenants-'));
  const tenantsFile = join(dir, 'tenants');
  const keysFile = join(dir, 'api-keys');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const digestOf = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;

  it('reads both as one: a tenant declared in one, its keys in either; both are re-read', async () => {
    replaceFile(tenantsFile, `tenant acme\nkey acme ${digestOf(KEY_A)} tasks:submit\n`);
    replaceFile(keysFile, `key acme ${KEY_B} tasks:read\n`);
    const api = await apiFor(uniqueQueue(), {
      API_TENANTS_FILE: tenantsFile,
      API_KEYS_FILE: keysFile,
      API_KEYS_RELOAD_MS: '100',
    });
    try {
      expect(await statusWith(api.url, KEY_A)).toBe(202);
      expect(await statusWith(api.url, KEY_B)).toBe(403); // acme's, but without tasks:submit
      replaceFile(tenantsFile, 'tenant acme\n'); // KEY_A's digest removed from the values
      await eventually(
        async () => ((await statusWith(api.url, KEY_A)) === 401 ? true : undefined),
        5000,
        '401',
      );
      expect(await statusWith(api.url, KEY_B)).toBe(403);
    } finally {
      await api.stop();
    }
  });

  it('refuses to start when the tenants file holds a key itself, not its digest', async () => {
    replaceFile(tenantsFile, `tenant acme\nkey acme ${KEY_A} tasks:submit\n`);
    const failure: Error = await apiFor(uniqueQueue(), { API_TENANTS_FILE: tenantsFile }).then(
      async (api) => {
        await api.stop();
        throw new Error('the API started');
      },
      (err: Error) => err,
    );
    expect(failure.message).toMatch(/API_TENANTS_FILE=.*: line 2: keys here must be sha256:/);
    expect(failure.message).not.toContain(KEY_A);
  });
});
