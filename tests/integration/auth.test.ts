import { request } from '../helpers/http';
import { apiFor } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';

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
  ])('refuses %s with 401', async (_name, headers) => {
    const res = await submit(headers);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="spillway"/);
  });

  it('does not read keys from the query string', async () => {
    expect((await submit({}, `/v1/tasks?api_key=${KEY_A}`)).status).toBe(401);
    expect((await request(api.url, 'GET', `/v1/stats?access_token=${KEY_A}`)).status).toBe(401);
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

  it('scopes Idempotency-Keys to the API key', async () => {
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
