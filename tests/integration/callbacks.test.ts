import type { ServerResponse } from 'node:http';
import type { LookupAddress } from 'node:dns';
import {
  CallbackSender,
  signatureHeader,
  verifySignature,
  type CallbackOptions,
} from '../../services/worker/callbacks';
import { createLogger } from '../../services/shared/logger';
import { AddressPolicy } from '../../services/shared/net/address-policy';
import { guardedFetch } from '../../services/shared/net/guarded-fetch';
import { SPILLWAY_VERSION } from '../../services/shared/version';
import { receiver } from '../helpers/receiver';

const SECRET = 'whsec_integration_secret';
const options: CallbackOptions = {
  secret: SECRET,
  timeoutMs: 2000,
  maxAttempts: 5,
  baseDelayMs: 20,
  maxDelayMs: 100,
  // The receivers below listen on loopback, which callbacks may reach only when allowed.
  allow: { hosts: [], cidrs: ['127.0.0.1/32'] },
};
const logger = createLogger('silent');
const record = {
  id: 'cb-7d2e',
  type: 'echo',
  status: 'succeeded',
  attempts: 1,
  createdAt: '2026-11-24T13:40:00.000Z',
  startedAt: '2026-11-24T13:40:00.010Z',
  finishedAt: '2026-11-24T13:40:00.020Z',
  // Non-ASCII and escapes: the signature must cover the exact bytes on the wire.
  result: { greeting: 'grüß dich ✓', quote: '"\\/' },
  error: null,
  progress: null,
};

const reply =
  (status: number, headers: Record<string, string> = {}) =>
  (res: ServerResponse) =>
    res.writeHead(status, headers).end(status < 300 ? 'ok' : 'no');

const open: Array<{ close(): Promise<void> }> = [];
async function serve(answer: (res: ServerResponse, nth: number) => void) {
  const server = await receiver(answer);
  open.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((server) => server.close()));
});

describe('completion callbacks against a real HTTP receiver', () => {
  it('delivers the record with a signature that verifies over the raw body received', async () => {
    const hook = await serve(reply(200));
    const outcome = await new CallbackSender(options, { logger }).send(hook.url, record);

    expect(outcome).toEqual({ delivered: true, attempts: 1, status: 200, at: expect.any(Number) });
    expect(hook.received).toHaveLength(1);
    const [request] = hook.received;
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toBe(`spillway/${SPILLWAY_VERSION}`);
    expect(request!.headers['spillway-task-id']).toBe(record.id);
    expect(request!.headers['idempotency-key']).toMatch(new RegExp(`^${record.id}:`));
    expect(JSON.parse(request!.rawBody)).toEqual(record);
    const signature = request!.headers['spillway-signature'] as string;
    expect(verifySignature(SECRET, signature, request!.rawBody)).toBe(true);
    expect(verifySignature('not-the-secret', signature, request!.rawBody)).toBe(false);
    // A receiver's check fails for a body or a timestamp changed on the way.
    const tampered = request!.rawBody.replace('succeeded', 'failed');
    expect(verifySignature(SECRET, signature, tampered)).toBe(false);
    const [, mac] = /v1=([0-9a-f]+)/.exec(signature)!;
    const later = Math.floor(Date.now() / 1000) + 5;
    expect(verifySignature(SECRET, `t=${later},v1=${mac}`, request!.rawBody)).toBe(false);
    expect(verifySignature(SECRET, signatureHeader(SECRET, request!.rawBody), request!.rawBody)).toBe(true);
  });

  it('retries 503 twice, then delivers on the third attempt with the same Idempotency-Key', async () => {
    const hook = await serve((res, nth) => reply(nth <= 2 ? 503 : 200)(res));
    const delivered: number[] = [];
    const sender = new CallbackSender(options, {
      logger,
      events: { callbackDelivered: (n) => delivered.push(n), callbackFailed: () => undefined },
    });

    const outcome = await sender.send(hook.url, record);
    expect(outcome).toMatchObject({ delivered: true, attempts: 3, status: 200 });
    expect(delivered).toEqual([3]);
    expect(hook.received).toHaveLength(3);
    expect(new Set(hook.received.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    // Every attempt is signed afresh, and each signature verifies.
    for (const r of hook.received) {
      expect(verifySignature(SECRET, r.headers['spillway-signature'] as string, r.rawBody)).toBe(true);
    }
  });

  it('does not retry a 400', async () => {
    const hook = await serve(reply(400));
    const outcome = await new CallbackSender(options, { logger }).send(hook.url, record);
    expect(outcome).toMatchObject({ delivered: false, attempts: 1, status: 400, error: 'HTTP 400' });
    expect(hook.received).toHaveLength(1);
  });

  it('times out each attempt against a receiver that never answers', async () => {
    const hook = await serve(() => undefined);
    const sender = new CallbackSender({ ...options, timeoutMs: 300, maxAttempts: 2 }, { logger });

    const started = Date.now();
    const outcome = await sender.send(hook.url, record);
    const elapsed = Date.now() - started;
    expect(outcome).toMatchObject({ delivered: false, attempts: 2, error: 'timed out after 300 ms' });
    expect(outcome.status).toBeUndefined();
    expect(hook.received).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(2 * 300 - 20);
    expect(elapsed).toBeLessThan(2 * 300 + options.maxDelayMs + 1000);
  });

  it('stops at once when shutdown aborts an attempt to a hanging receiver', async () => {
    const hook = await serve(() => undefined);
    const sender = new CallbackSender({ ...options, timeoutMs: 10_000 }, { logger });

    const started = Date.now();
    const outcome = await sender.send(hook.url, record, AbortSignal.timeout(200));
    expect(outcome).toMatchObject({ delivered: false, attempts: 1, error: 'aborted' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('does not follow a 302 to another server', async () => {
    const elsewhere = await serve(reply(200));
    const hook = await serve(reply(302, { location: elsewhere.url }));

    const outcome = await new CallbackSender(options, { logger }).send(hook.url, record);
    expect(outcome).toMatchObject({ delivered: false, attempts: 1, status: 302 });
    expect(hook.received).toHaveLength(1);
    expect(elsewhere.received).toHaveLength(0);
  });

  it('retries when nothing listens, then reports the connection error', async () => {
    const gone = await receiver(reply(200));
    await gone.close();

    const outcome = await new CallbackSender({ ...options, maxAttempts: 2 }, { logger }).send(
      gone.url,
      record,
    );
    expect(outcome).toMatchObject({ delivered: false, attempts: 2 });
    expect(outcome.error).toMatch(/ECONNREFUSED/);
  });
});

describe('where callbacks may go', () => {
  const strict: CallbackOptions = { ...options, allow: { hosts: [], cidrs: [] } };

  it('refuses a loopback receiver unless allowed, without sending it anything or retrying', async () => {
    const hook = await serve(reply(200));
    const outcome = await new CallbackSender(strict, { logger }).send(hook.url, record);
    expect(outcome).toMatchObject({ delivered: false, attempts: 1 });
    expect(outcome.error).toMatch(/127\.0\.0\.1 is a loopback address/);
    expect(hook.received).toHaveLength(0);
  });

  it('refuses a host name that resolves to loopback (localhost), and allows it by name', async () => {
    const hook = await serve(reply(200));
    const byName = hook.url.replace('127.0.0.1', 'localhost');
    const refused = await new CallbackSender(strict, { logger }).send(byName, record);
    expect(refused).toMatchObject({ delivered: false, attempts: 1 });
    expect(refused.error).toMatch(/localhost resolves to .* loopback address/);
    expect(hook.received).toHaveLength(0);

    const allowed = { ...strict, allow: { hosts: ['localhost'], cidrs: [] } };
    // localhost may resolve to ::1 first, where nothing listens: enough attempts to reach 127.0.0.1.
    const outcome = await new CallbackSender({ ...allowed, maxAttempts: 3 }, { logger }).send(byName, record);
    expect(outcome).toMatchObject({ delivered: true });
    expect(hook.received).toHaveLength(1);
  });

  it.each([
    ['an IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]:9/x', 'loopback'],
    ['an IPv6 loopback', 'http://[::1]:9/x', 'loopback'],
    ['the metadata service', 'http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['the metadata service over IPv6', 'http://[fd00:ec2::254]/latest/', 'unique local'],
    ['a private address', 'https://10.0.0.1/hook', 'private'],
    ['a CGNAT address', 'http://100.64.1.1/hook', 'CGNAT'],
    ['a hex-written loopback', 'http://0x7f.1:9/x', 'loopback'],
    ['a decimal-written loopback', 'http://2130706433:9/x', 'loopback'],
    ['the unspecified address', 'http://0.0.0.0:9/x', 'unspecified'],
  ])('refuses %s at once', async (_name, url, kind) => {
    const outcome = await new CallbackSender(strict, { logger }).send(url, record);
    expect(outcome).toMatchObject({ delivered: false, attempts: 1 });
    expect(outcome.error).toContain(kind);
  });

  it('connects to exactly the addresses it checked, resolving once per attempt (no DNS rebinding)', async () => {
    const hook = await serve(reply(200));
    const port = new URL(hook.url).port;
    const lookups: string[] = [];
    // A resolver that answers differently each time, as a rebinding attacker's DNS server does.
    const answers: LookupAddress[][] = [
      [{ address: '127.0.0.1', family: 4 }],
      [{ address: '169.254.169.254', family: 4 }],
    ];
    const resolve = async (hostname: string) => {
      lookups.push(hostname);
      return answers[lookups.length - 1] ?? [];
    };
    const policy = new AddressPolicy({ hosts: [], cidrs: ['127.0.0.1/32'] });
    const sender = new CallbackSender(strict, { logger, fetch: guardedFetch(policy, resolve) });

    // Resolved to the allowed 127.0.0.1 and delivered there: the socket used the checked answer.
    const first = await sender.send(`http://hooks.example.test:${port}/hook`, record);
    expect(first).toMatchObject({ delivered: true, attempts: 1 });
    expect(hook.received).toHaveLength(1);
    // The same name now answers the metadata address: refused, nothing sent.
    const second = await sender.send(`http://rebind.example.test:${port}/hook`, record);
    expect(second).toMatchObject({ delivered: false, attempts: 1 });
    expect(second.error).toMatch(/rebind\.example\.test resolves to 169\.254\.169\.254 is a link-local/);
    expect(hook.received).toHaveLength(1);
    expect(lookups).toEqual(['hooks.example.test', 'rebind.example.test']);
  });

  it('refuses a name when any one of its addresses is internal', async () => {
    const hook = await serve(reply(200));
    const port = new URL(hook.url).port;
    const resolve = async (): Promise<LookupAddress[]> => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const sender = new CallbackSender(strict, { logger, fetch: guardedFetch(new AddressPolicy(), resolve) });
    const outcome = await sender.send(`http://mixed.example.test:${port}/hook`, record);
    expect(outcome).toMatchObject({ delivered: false, attempts: 1 });
    expect(outcome.error).toMatch(/127\.0\.0\.1 is a loopback address/);
    expect(hook.received).toHaveLength(0);
  });

  it('does not follow a redirect from an allowed receiver to the metadata service', async () => {
    const hook = await serve(reply(307, { location: 'http://169.254.169.254/latest/meta-data/' }));
    const outcome = await new CallbackSender(options, { logger }).send(hook.url, record);
    expect(outcome).toMatchObject({
      delivered: false,
      attempts: 1,
      status: 307,
      error: 'redirects are not followed',
    });
  });
});
