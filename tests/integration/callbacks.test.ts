import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallbackSender, verifySignature, type CallbackOptions } from '../../services/worker/callbacks';
import { createLogger } from '../../services/shared/logger';
import { SPILLWAY_VERSION } from '../../services/shared/version';

const SECRET = 'whsec_integration_secret';
const options: CallbackOptions = {
  secret: SECRET,
  timeoutMs: 2000,
  maxAttempts: 5,
  baseDelayMs: 20,
  maxDelayMs: 100,
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

interface Received {
  method: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
}

/** A real HTTP receiver on a free loopback port; `answer` decides each reply from the request count. */
async function receiver(answer: (res: ServerResponse, nth: number) => void) {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method!,
        headers: req.headers,
        rawBody: Buffer.concat(chunks).toString('utf8'),
      });
      answer(res, received.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/spillway`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

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
