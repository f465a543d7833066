import { createHmac } from 'node:crypto';
import { getEventListeners } from 'node:events';
import {
  callbackBackoff,
  CallbackSender,
  signatureHeader,
  verifySignature,
  type CallbackEvents,
  type CallbackOptions,
} from '../../services/worker/callbacks';
import { createLogger } from '../../services/shared/logger';
import { SPILLWAY_VERSION } from '../../services/shared/version';

const SECRET = 'whsec_unit_test_secret';
const NOW = 1_700_000_000_000;
const T = NOW / 1000;
const BODY = JSON.stringify({ id: 'task-1', status: 'succeeded', result: { n: 1 } });
const mac = (secret: string, t: number, body: string) =>
  createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

describe('callbackBackoff', () => {
  it('waits between 0 and base * 2^(attempt-1)', () => {
    for (let attempt = 1; attempt <= 6; attempt++) {
      const ceiling = 500 * 2 ** (attempt - 1);
      expect(callbackBackoff(attempt, 500, 1_000_000, () => 0)).toBe(0);
      expect(callbackBackoff(attempt, 500, 1_000_000, () => 0.999999)).toBe(Math.floor(0.999999 * ceiling));
      for (let i = 0; i < 50; i++) {
        const delay = callbackBackoff(attempt, 500, 1_000_000);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceiling);
      }
    }
  });

  it('doubles its ceiling per attempt until the cap', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) =>
      callbackBackoff(attempt, 500, 30_000, () => 0.5),
    );
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 8000, 15_000, 15_000]);
  });

  it('stays finite and capped for absurd attempt numbers', () => {
    expect(callbackBackoff(10_000, 500, 30_000, () => 0.999)).toBe(29_970);
    expect(callbackBackoff(0, 500, 30_000, () => 0.5)).toBe(250);
  });
});

describe('verifySignature', () => {
  const good = `t=${T},v1=${mac(SECRET, T, BODY)}`;

  it('accepts the header signatureHeader builds, and a hand-built one', () => {
    expect(verifySignature(SECRET, signatureHeader(SECRET, BODY, NOW), BODY, 300, NOW)).toBe(true);
    expect(verifySignature(SECRET, good, BODY, 300, NOW)).toBe(true);
    expect(
      verifySignature(SECRET, ` t=${T} , v1=${mac(SECRET, T, BODY).toUpperCase()} `, BODY, 300, NOW),
    ).toBe(true);
  });

  it('rejects a tampered body', () => {
    expect(verifySignature(SECRET, good, BODY.replace('succeeded', 'failed'), 300, NOW)).toBe(false);
    expect(verifySignature(SECRET, good, BODY + ' ', 300, NOW)).toBe(false);
  });

  it('rejects another secret, and never verifies with an empty one', () => {
    expect(verifySignature('another-secret', good, BODY, 300, NOW)).toBe(false);
    expect(verifySignature('', `t=${T},v1=${mac('', T, BODY)}`, BODY, 300, NOW)).toBe(false);
  });

  it('rejects a timestamp outside the tolerance, either way', () => {
    expect(verifySignature(SECRET, good, BODY, 300, NOW + 300_000)).toBe(true);
    expect(verifySignature(SECRET, good, BODY, 300, NOW + 301_000)).toBe(false);
    expect(verifySignature(SECRET, good, BODY, 300, NOW - 301_000)).toBe(false);
    expect(verifySignature(SECRET, good, BODY, 10, NOW + 11_000)).toBe(false);
  });

  it('rejects a timestamp the MAC does not cover', () => {
    expect(verifySignature(SECRET, `t=${T + 1},v1=${mac(SECRET, T, BODY)}`, BODY, 300, NOW)).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not key=value', 'garbage'],
    ['no timestamp', `v1=${mac(SECRET, T, BODY)}`],
    ['no v1', `t=${T}`],
    ['a non-numeric timestamp', `t=abc,v1=${mac(SECRET, T, BODY)}`],
    ['a negative timestamp', `t=-${T},v1=${mac(SECRET, T, BODY)}`],
    ['two timestamps', `t=${T},t=${T},v1=${mac(SECRET, T, BODY)}`],
    ['a short v1', `t=${T},v1=${mac(SECRET, T, BODY).slice(0, 62)}`],
    ['a non-hex v1', `t=${T},v1=${'z'.repeat(64)}`],
    ['only another scheme', `t=${T},v0=${mac(SECRET, T, BODY)}`],
    ['a trailing comma', `t=${T},v1=${mac(SECRET, T, BODY)},`],
  ])('rejects a header with %s', (_, header) => {
    expect(verifySignature(SECRET, header, BODY, 300, NOW)).toBe(false);
  });

  it('accepts any one of several v1 values (secret rotation)', () => {
    const header = `t=${T},v1=${mac('old-secret', T, BODY)},v1=${mac(SECRET, T, BODY)}`;
    expect(verifySignature(SECRET, header, BODY, 300, NOW)).toBe(true);
    expect(verifySignature('old-secret', header, BODY, 300, NOW)).toBe(true);
    expect(verifySignature('third-secret', header, BODY, 300, NOW)).toBe(false);
  });
});

describe('CallbackSender retry policy', () => {
  const URL_ = 'https://receiver.example/hooks/spillway';
  const options: CallbackOptions = {
    secret: SECRET,
    timeoutMs: 5000,
    maxAttempts: 5,
    baseDelayMs: 500,
    maxDelayMs: 30_000,
  };
  const logger = createLogger('silent');

  /** A sender whose fetch answers `answers` in turn (a status, headers, or a thrown error). */
  function harness(
    answers: Array<number | [number, Record<string, string>] | Error>,
    opts = options,
    onSleep: () => void = () => undefined,
  ) {
    const requests: Array<{ url: string; init: RequestInit }> = [];
    const sleeps: number[] = [];
    const events = { delivered: [] as number[], failed: [] as number[] };
    const sink: CallbackEvents = {
      callbackDelivered: (n) => events.delivered.push(n),
      callbackFailed: (n) => events.failed.push(n),
    };
    const fakeFetch = jest.fn(async (input: string | URL | Request, init?: RequestInit) => {
      requests.push({ url: String(input), init: init! });
      const answer = answers[Math.min(requests.length - 1, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      const [status, headers] = typeof answer === 'number' ? [answer, {}] : answer;
      return new Response(null, { status, headers });
    });
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      onSleep();
    };
    const sender = new CallbackSender(opts, {
      logger,
      events: sink,
      fetch: fakeFetch as typeof fetch,
      sleep,
    });
    return { sender, requests, sleeps, events };
  }

  it('delivers on a 2xx at once, with JSON, the user agent, a valid signature and the task headers', async () => {
    const { sender, requests, sleeps, events } = harness([204]);
    const outcome = await sender.send(URL_, JSON.parse(BODY));
    expect(outcome).toEqual({ delivered: true, attempts: 1, status: 204, at: expect.any(Number) });
    expect(sleeps).toEqual([]);
    expect(events).toEqual({ delivered: [1], failed: [] });
    const { url, init } = requests[0]!;
    expect(url).toBe(URL_);
    expect(init).toMatchObject({ method: 'POST', body: BODY, redirect: 'manual' });
    const headers = init.headers as Record<string, string>;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toBe(`spillway/${SPILLWAY_VERSION}`);
    expect(headers['Spillway-Task-Id']).toBe('task-1');
    expect(headers['Idempotency-Key']).toMatch(/^task-1:/);
    expect(verifySignature(SECRET, headers['Spillway-Signature'], BODY)).toBe(true);
  });

  it('sends no signature without a secret, and no task headers without a string id', async () => {
    const { sender, requests } = harness([200], { ...options, secret: '' });
    await sender.send(URL_, { id: 42 });
    const headers = requests[0]!.init.headers as Record<string, string>;
    expect(Object.keys(headers).sort()).toEqual(['content-type', 'user-agent']);
  });

  it.each([408, 429, 500, 502, 503, 504])('retries a %d', async (status) => {
    const { sender, requests, events } = harness([status, status, 200]);
    const outcome = await sender.send(URL_, JSON.parse(BODY));
    expect(outcome).toMatchObject({ delivered: true, attempts: 3, status: 200 });
    expect(requests).toHaveLength(3);
    expect(events.delivered).toEqual([3]);
  });

  it('retries network errors and keeps one Idempotency-Key and body for every attempt', async () => {
    const { sender, requests } = harness([new TypeError('fetch failed'), 200]);
    expect(await sender.send(URL_, JSON.parse(BODY))).toMatchObject({ delivered: true, attempts: 2 });
    const keys = requests.map((r) => (r.init.headers as Record<string, string>)['Idempotency-Key']);
    expect(new Set(keys).size).toBe(1);
    expect(requests.map((r) => r.init.body)).toEqual([BODY, BODY]);
  });

  it.each([400, 401, 403, 404, 410, 413, 422])('does not retry a %d', async (status) => {
    const { sender, requests, sleeps, events } = harness([status, 200]);
    const outcome = await sender.send(URL_, JSON.parse(BODY));
    expect(outcome).toEqual({
      delivered: false,
      attempts: 1,
      status,
      error: `HTTP ${status}`,
      at: expect.any(Number),
    });
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(events).toEqual({ delivered: [], failed: [1] });
  });

  it.each([301, 302, 307, 308])('does not follow or retry a %d', async (status) => {
    const { sender, requests } = harness([[status, { location: 'http://169.254.169.254/' }], 200]);
    const outcome = await sender.send(URL_, JSON.parse(BODY));
    expect(outcome).toMatchObject({
      delivered: false,
      attempts: 1,
      status,
      error: 'redirects are not followed',
    });
    expect(requests).toHaveLength(1);
  });

  it('backs off with growing, capped, jittered waits and stops after maxAttempts', async () => {
    const { sender, requests, sleeps, events } = harness([503], {
      ...options,
      maxAttempts: 6,
      maxDelayMs: 3000,
    });
    const outcome = await sender.send(URL_, JSON.parse(BODY));
    expect(outcome).toMatchObject({ delivered: false, attempts: 6, status: 503, error: 'HTTP 503' });
    expect(requests).toHaveLength(6);
    expect(sleeps).toHaveLength(5);
    [500, 1000, 2000, 3000, 3000].forEach((ceiling, i) => {
      expect(sleeps[i]).toBeGreaterThanOrEqual(0);
      expect(sleeps[i]).toBeLessThan(ceiling);
    });
    expect(events.failed).toEqual([6]);
  });

  it('honours Retry-After seconds, capped by maxDelayMs', async () => {
    const { sender, sleeps } = harness([
      [429, { 'retry-after': '7' }],
      [429, { 'retry-after': '3600' }],
      [503, { 'retry-after': '0' }],
      [429, { 'retry-after': 'soon' }],
      200,
    ]);
    expect(await sender.send(URL_, JSON.parse(BODY))).toMatchObject({ delivered: true, attempts: 5 });
    expect(sleeps.slice(0, 3)).toEqual([7000, 30_000, 0]);
    // An unreadable Retry-After falls back to the backoff for the fourth retry.
    expect(sleeps[3]).toBeLessThan(4000);
  });

  it('reports a URL it cannot POST to without trying', async () => {
    const { sender, requests, events } = harness([200]);
    for (const url of ['not a url', 'ftp://receiver.example/x', 'file:///etc/passwd']) {
      expect(await sender.send(url, {})).toMatchObject({ delivered: false, attempts: 0 });
    }
    expect(requests).toHaveLength(0);
    expect(events.failed).toEqual([0, 0, 0]);
  });

  it('stops retrying when the signal aborts during a wait', async () => {
    const controller = new AbortController();
    const { sender, requests, sleeps, events } = harness([503], options, () => controller.abort());
    const outcome = await sender.send(URL_, JSON.parse(BODY), controller.signal);
    expect(outcome).toMatchObject({ delivered: false, attempts: 1, status: 503, error: 'aborted' });
    expect(requests).toHaveLength(1);
    expect(sleeps).toHaveLength(1);
    expect(events.failed).toEqual([1]);
  });

  it('leaves no listener on the shutdown signal, which outlives every send', async () => {
    const shutdown = new AbortController();
    const { sender } = harness([503, new TypeError('fetch failed'), 200]);
    expect(await sender.send(URL_, JSON.parse(BODY), shutdown.signal)).toMatchObject({ attempts: 3 });
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('makes no request when the signal has already aborted', async () => {
    const { sender, requests } = harness([200]);
    const outcome = await sender.send(URL_, JSON.parse(BODY), AbortSignal.abort());
    expect(outcome).toMatchObject({ delivered: false, attempts: 0, error: 'aborted' });
    expect(requests).toHaveLength(0);
  });

  it('passes the abort signal to fetch, so shutdown also cuts an attempt short', async () => {
    const controller = new AbortController();
    const fakeFetch = jest.fn(
      (_: string | URL | Request, init?: RequestInit) =>
        new Promise<Response>((_resolve, reject) => {
          init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason));
          controller.abort();
        }),
    );
    const sender = new CallbackSender(options, {
      logger,
      fetch: fakeFetch as typeof fetch,
      sleep: async () => {},
    });
    const outcome = await sender.send(URL_, JSON.parse(BODY), controller.signal);
    expect(outcome).toMatchObject({ delivered: false, attempts: 1, error: 'aborted' });
    expect(fakeFetch).toHaveBeenCalledTimes(1);
  });
});
