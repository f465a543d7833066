/**
 * Completion callbacks: when a task finishes, POST its record to the client's `callbackUrl`.
 *
 * A callback may arrive more than once (a retry after a lost response), so every request carries
 * an `Idempotency-Key` that is the same for every attempt. The body is signed the way
 * Stripe signs webhooks: the timestamp is inside the MAC, so a captured request cannot be
 * replayed once it is older than the receiver's tolerance.
 *
 * Requests go only to public addresses unless the operator allows more (see address-policy.ts):
 * the URL comes from whoever submitted the task, and the worker sits inside the cluster.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../shared/logger';
import { AddressPolicy, type AddressAllowList } from '../shared/net/address-policy';
import { guardedFetch, type HttpFetch } from '../shared/net/guarded-fetch';
import { SPILLWAY_VERSION } from '../shared/version';

export const SIGNATURE_HEADER = 'Spillway-Signature';
export const TASK_ID_HEADER = 'Spillway-Task-Id';
export const BATCH_ID_HEADER = 'Spillway-Batch-Id';

/** What a callback reports on: a task's outcome, or a batch's completion. */
export type CallbackSubject = 'task' | 'batch';

export interface CallbackOptions {
  /** HMAC-SHA256 key for `Spillway-Signature` (CALLBACK_SECRET, no default); empty sends unsigned requests. */
  secret: string;
  /** Longest one attempt may wait for the response headers (CALLBACK_TIMEOUT_MS, default 5000). */
  timeoutMs: number;
  /** Attempts before giving up, counting the first (CALLBACK_MAX_ATTEMPTS, default 5). */
  maxAttempts: number;
  /** Backoff before the first retry; it doubles per retry, with full jitter (default 500). */
  baseDelayMs: number;
  /** Longest wait between attempts, also the cap on a receiver's `Retry-After` (default 30000). */
  maxDelayMs: number;
  /**
   * Internal hosts and ranges callbacks may reach (CALLBACK_ALLOW_HOSTS, CALLBACK_ALLOW_CIDRS);
   * default none: loopback, private, link-local and metadata addresses are refused.
   */
  allow?: AddressAllowList;
}

/** What the worker reports about callbacks; metrics.ts turns these into Prometheus series. */
export interface CallbackEvents {
  callbackDelivered(attempts: number): void;
  /** Every attempt failed, a non-retriable answer came back, or shutdown stopped the retries. */
  callbackFailed(attempts: number): void;
}

export interface CallbackOutcome {
  delivered: boolean;
  /**
   * Attempts made (0 when the URL was unusable or shutdown came first); one refused for its
   * address sent nothing.
   */
  attempts: number;
  /** The last HTTP status received, if any. */
  status?: number;
  /** Why the last attempt did not deliver. */
  error?: string;
  /** Epoch milliseconds when the outcome was settled. */
  at: number;
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface CallbackDeps {
  logger: Logger;
  events?: CallbackEvents;
  /** Injected by unit tests of the retry policy only; the real one checks every address it connects to. */
  fetch?: HttpFetch;
  sleep?: Sleep;
}

/** One attempt's result: `retryAfterMs` is set when the receiver asked for a particular wait. */
interface Attempt {
  ok: boolean;
  retriable: boolean;
  status?: number;
  error?: string;
  retryAfterMs?: number;
}

export class CallbackSender {
  private readonly fetch: HttpFetch;
  private readonly sleep: Sleep;

  constructor(
    private readonly options: CallbackOptions,
    private readonly deps: CallbackDeps,
  ) {
    this.fetch = deps.fetch ?? guardedFetch(new AddressPolicy(options.allow));
    this.sleep = deps.sleep ?? abortableSleep;
  }

  /** POSTs `body` as JSON to `url`, retrying transient failures; never throws. */
  async send(
    url: string,
    body: object,
    signal?: AbortSignal,
    subject: CallbackSubject = 'task',
  ): Promise<CallbackOutcome> {
    const target = parseTarget(url);
    const id = 'id' in body && typeof body.id === 'string' ? body.id : undefined;
    // The host only: receivers often put a token in the path or query string.
    const log = this.deps.logger.child({ callbackHost: target?.host, [`${subject}Id`]: id });
    if (!target) return this.finish(log, { ok: false, retriable: false, error: 'not an http(s) URL' }, 0);

    // One serialisation for every attempt: the signature covers these exact bytes.
    const raw = JSON.stringify(body);
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.options;
    let last: Attempt = { ok: false, retriable: false, error: 'no attempt made' };
    let attempts = 0;
    while (attempts < maxAttempts && !signal?.aborted) {
      attempts += 1;
      last = await this.attempt(target, raw, id === undefined ? undefined : { subject, id }, signal);
      if (last.ok || !last.retriable || attempts >= maxAttempts) break;
      const delay = Math.min(
        last.retryAfterMs ?? callbackBackoff(attempts, baseDelayMs, maxDelayMs),
        maxDelayMs,
      );
      log.debug('callback attempt failed; retrying', {
        attempt: attempts,
        status: last.status,
        error: last.error,
        delayMs: delay,
      });
      await this.sleep(delay, signal);
    }
    // Shutdown during a retry wait leaves the last failure unretried: report the real reason.
    if (!last.ok && signal?.aborted)
      last = { ok: false, retriable: false, status: last.status, error: 'aborted' };
    return this.finish(log, last, attempts);
  }

  private async attempt(
    target: URL,
    raw: string,
    about: { subject: CallbackSubject; id: string } | undefined,
    signal?: AbortSignal,
  ): Promise<Attempt> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `spillway/${SPILLWAY_VERSION}`,
    };
    if (about) {
      headers[about.subject === 'task' ? TASK_ID_HEADER : BATCH_ID_HEADER] = about.id;
      // The same key on every attempt and every worker: a receiver keeps the first delivery.
      headers['Idempotency-Key'] = `${about.subject === 'task' ? '' : 'batch:'}${about.id}:completion`;
    }
    if (this.options.secret) headers[SIGNATURE_HEADER] = signatureHeader(this.options.secret, raw);

    // Linked by hand rather than with AbortSignal.any, which on Node 20 leaves an entry on the
    // long-lived shutdown signal for every call.
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const cut = new AbortController();
    const abort = () => cut.abort();
    timeout.addEventListener('abort', abort, { once: true });
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const res = await this.fetch(target, {
        method: 'POST',
        headers,
        body: raw,
        // Following a redirect would send the record (and signature) somewhere nobody configured.
        redirect: 'manual',
        signal: cut.signal,
      });
      // Release the connection; the receiver's answer body carries nothing we use.
      await res.body?.cancel().catch(() => undefined);
      return judge(res);
    } catch (err) {
      if (signal?.aborted) return { ok: false, retriable: false, error: 'aborted' };
      // The address will not change its kind on a retry (and a retry would only probe it again).
      if (isBlocked(err)) return { ok: false, retriable: false, error: describe(err) };
      if (timeout.aborted)
        return { ok: false, retriable: true, error: `timed out after ${this.options.timeoutMs} ms` };
      return { ok: false, retriable: true, error: describe(err) };
    } finally {
      timeout.removeEventListener('abort', abort);
      signal?.removeEventListener('abort', abort);
    }
  }

  private finish(log: Logger, last: Attempt, attempts: number): CallbackOutcome {
    const outcome: CallbackOutcome = { delivered: last.ok, attempts, at: Date.now() };
    if (last.status !== undefined) outcome.status = last.status;
    if (!last.ok) outcome.error = last.error;
    if (last.ok) {
      this.deps.events?.callbackDelivered(attempts);
      log.debug('callback delivered', { attempts, status: last.status });
    } else {
      this.deps.events?.callbackFailed(attempts);
      log.warn('callback not delivered', { attempts, status: last.status, error: last.error });
    }
    return outcome;
  }
}

/** Which answers are worth another attempt: the receiver is busy or broken, not refusing. */
function judge(res: Response): Attempt {
  const { status } = res;
  if (status >= 200 && status < 300) return { ok: true, retriable: false, status };
  // `redirect: 'manual'` may surface as an opaque redirect (status 0) rather than the 3xx itself.
  if (res.type === 'opaqueredirect' || (status >= 300 && status < 400)) {
    return { ok: false, retriable: false, status, error: 'redirects are not followed' };
  }
  const retriable = status === 408 || status === 429 || status >= 500;
  const retryAfterMs = retriable ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
  return {
    ok: false,
    retriable,
    status,
    error: `HTTP ${status}`,
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  };
}

/** `Retry-After` as delta-seconds or an HTTP date; undefined when absent or unreadable. */
function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Duck-typed like describe(): a BlockedAddressError from guardedFetch. */
function isBlocked(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ERR_ADDRESS_BLOCKED';
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, a TLS error) is in its cause. */
function describe(err: unknown): string {
  // Duck-typed: undici's errors come from another realm than this module's Error under jest.
  // A failed connection to several addresses (an AggregateError) has no message, only a code.
  const text = (e: unknown) =>
    (e as { message?: unknown })?.message || (e as { code?: unknown })?.code || String(e);
  const cause = (err as { cause?: unknown })?.cause;
  return cause === undefined ? String(text(err)) : `${String(text(err))}: ${String(text(cause))}`;
}

function parseTarget(url: string): URL | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The wait before retry number `attempt` (1 = after the first failure): uniformly random up to
 * `baseMs * 2^(attempt-1)`, capped at `maxMs`. Full jitter spreads out the retries of many workers
 * whose callbacks failed together (one receiver outage).
 */
export function callbackBackoff(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

const hmac = (secret: string, timestamp: string, rawBody: string) =>
  createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest();

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. */
export function signatureHeader(secret: string, rawBody: string, now = Date.now()): string {
  const t = String(Math.floor(now / 1000));
  return `t=${t},v1=${hmac(secret, t, rawBody).toString('hex')}`;
}

/**
 * For receivers: true when `header` (a `Spillway-Signature` value) signs `rawBody` with `secret`
 * and its timestamp is within `toleranceSeconds` of `now`. Several `v1=` values are accepted so a
 * sender can sign with an old and a new secret while a rotation is rolled out.
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  rawBody: string,
  toleranceSeconds = 300,
  now = Date.now(),
): boolean {
  if (!secret || !header) return false;
  let timestamp: string | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return false;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      // Two timestamps would leave it open which one the MAC covers.
      if (timestamp !== undefined || !/^\d{1,15}$/.test(value)) return false;
      timestamp = value;
    } else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) {
      candidates.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === undefined || candidates.length === 0) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = hmac(secret, timestamp, rawBody);
  return candidates.some(
    (candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected),
  );
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller checks `signal.aborted`). */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
