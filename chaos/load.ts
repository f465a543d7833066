import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** One HTTP attempt of a submission: when it was sent, how long the answer took, what it was. */
export interface Attempt {
  /** Epoch ms at which the request was sent. */
  at: number;
  ms: number;
  /** The HTTP status; 0 when no answer came (connection refused or reset, or the client's timeout). */
  status: number;
  /** The error code of a 4xx/5xx answer, or the network error. */
  code?: string;
}

/** One task a client wants submitted, followed through its retries. */
export interface Submission {
  seq: number;
  /** The Idempotency-Key the client sends on every attempt; none for an unkeyed client. */
  key?: string;
  /** Put in the task's payload: ties the tasks on the topic to their submission (the key, when there is one). */
  tag: string;
  firstSentAt?: number;
  attempts: Attempt[];
  /** Every task id the API answered with (202 or a 200 replay); more than one is a broken promise. */
  ids: string[];
  /** Epoch ms of the first 2xx. */
  acknowledgedAt?: number;
  /** The client stopped trying before any 2xx. */
  gaveUp: boolean;
}

export interface LoadOptions {
  /** The API's base URL (the same across API restarts: it comes back on its port). */
  url: string;
  /** Submissions started per second. */
  ratePerSec: number;
  /** HTTP requests in flight at most; beyond it, submissions wait on the client side. */
  maxInFlight?: number;
  /** Share of clients that send an Idempotency-Key (default 1: every client is careful). */
  keyedShare?: number;
  /** The task body for submission `seq`; `tag` goes into the payload to tie tasks to submissions. */
  task: (
    seq: number,
    tag: string,
  ) => { type: string; payload: Record<string, unknown>; [field: string]: unknown };
  /** A submission stops retrying this long after its first attempt (default 120 s). */
  giveUpAfterMs?: number;
  /** Longest wait for one answer (default 10 s). */
  requestTimeoutMs?: number;
  /** Called once per submission, with the id, on its first 2xx. */
  onAcknowledged?: (id: string) => void;
  /** Headers of submission `seq` besides the body's (an API key: which tenant submits it). */
  headers?: (seq: number) => Record<string, string>;
}

/** Longest pause between retries: a careful client honours Retry-After but does not wait long. */
const MAX_RETRY_DELAY_MS = 1000;

/**
 * A steady stream of clients submitting tasks at a fixed rate, each retrying like a careful
 * client: a 503, a 409 "in progress", a refused or reset connection are tried again after a short
 * pause, with the same Idempotency-Key, until some 2xx or the give-up time. Every attempt and every
 * id received is recorded: "acknowledged" is exactly the set of ids a client was given.
 */
export class LoadGenerator {
  readonly submissions: Submission[] = [];
  private readonly opts: Required<Omit<LoadOptions, 'onAcknowledged' | 'headers'>> &
    Pick<LoadOptions, 'onAcknowledged' | 'headers'>;
  private running = false;
  private ticker?: NodeJS.Timeout;
  private startedAt = 0;
  /** Epoch ms at which the load started: the origin of the times in reports. */
  startedAtMs = 0;
  private issued = 0;
  /** Submissions started by burst(), not counted against the steady rate. */
  private extra = 0;
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly outstanding = new Set<Promise<void>>();
  private stopAt = Infinity;

  constructor(options: LoadOptions) {
    this.opts = {
      maxInFlight: 64,
      keyedShare: 1,
      giveUpAfterMs: 120_000,
      requestTimeoutMs: 10_000,
      ...options,
    };
  }

  /** The ids clients were given, once each, in the order they were first given. */
  acknowledgedIds(): string[] {
    const seen = new Set<string>();
    const ids: string[] = [];
    for (const s of this.submissions) {
      for (const id of s.ids) {
        if (!seen.has(id)) ids.push(id);
        seen.add(id);
      }
    }
    return ids;
  }

  /** Every attempt of every submission, in no particular order. */
  attempts(): Attempt[] {
    return this.submissions.flatMap((s) => s.attempts);
  }

  /** Submissions still trying. */
  get pending(): number {
    return this.outstanding.size;
  }

  start(): void {
    this.running = true;
    this.startedAt = performance.now();
    this.startedAtMs = Date.now();
    // Ticks of 20 ms: the rate is kept on average, in small steps, whatever timers do.
    this.ticker = setInterval(() => this.tick(), 20);
  }

  /**
   * Stops starting submissions, then waits for those still retrying: until each has an answer, or
   * `drainMs` passes, after which the rest give up (they were never acknowledged).
   */
  async stop(drainMs: number): Promise<void> {
    this.running = false;
    clearInterval(this.ticker);
    this.stopAt = Date.now() + drainMs;
    await Promise.all([...this.outstanding]);
  }

  /**
   * Starts `count` submissions at once, on top of the steady rate: many requests in flight at a
   * chosen moment (a kill that must catch some mid-way).
   */
  burst(count: number): void {
    for (let i = 0; i < count; i++) this.startSubmission();
    // The steady rate goes on from where it was: the burst is extra.
    this.extra += count;
  }

  private tick(): void {
    if (!this.running) return;
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.opts.ratePerSec);
    while (this.issued - this.extra < due) this.startSubmission();
  }

  private startSubmission(): void {
    const seq = this.issued++;
    const keyed = this.opts.keyedShare >= 1 || (seq * 0.618034) % 1 < this.opts.keyedShare;
    const tag = `chaos-${randomUUID()}`;
    const submission: Submission = {
      seq,
      ...(keyed && { key: tag }),
      tag,
      attempts: [],
      ids: [],
      gaveUp: false,
    };
    this.submissions.push(submission);
    const done = this.submit(submission).finally(() => this.outstanding.delete(done));
    this.outstanding.add(done);
  }

  private async submit(submission: Submission): Promise<void> {
    const body = JSON.stringify(this.opts.task(submission.seq, submission.tag));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...this.opts.headers?.(submission.seq),
    };
    if (submission.key) headers['idempotency-key'] = submission.key;
    for (;;) {
      await this.takeSlot();
      if (Date.now() > this.stopAt) {
        // The drain ran out while this one waited for a connection: never sent again.
        this.releaseSlot();
        submission.gaveUp = submission.ids.length === 0;
        return;
      }
      const at = Date.now();
      submission.firstSentAt ??= at;
      const started = performance.now();
      let attempt: Attempt;
      let retryAfterMs = MAX_RETRY_DELAY_MS;
      try {
        const res = await fetch(`${this.opts.url}/v1/tasks`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
        });
        const text = await res.text();
        attempt = { at, ms: performance.now() - started, status: res.status };
        const parsed = parseJson(text) as { id?: unknown; error?: { code?: unknown } } | undefined;
        if (res.status === 200 || res.status === 202) {
          const id = typeof parsed?.id === 'string' ? parsed.id : undefined;
          if (id) this.acknowledge(submission, id);
          else attempt.code = 'no-id';
        } else if (typeof parsed?.error?.code === 'string') {
          attempt.code = parsed.error.code;
        }
        const retryAfter = Number(res.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000;
      } catch (err) {
        attempt = { at, ms: performance.now() - started, status: 0, code: networkCode(err) };
        retryAfterMs = 250;
      } finally {
        this.releaseSlot();
      }
      submission.attempts.push(attempt);
      if (submission.ids.length > 0) return;
      const retriable =
        attempt.status === 0 ||
        attempt.status >= 500 ||
        (attempt.status === 409 && attempt.code === 'idempotency_request_in_progress');
      const giveUpAt = Math.min(submission.firstSentAt + this.opts.giveUpAfterMs, this.stopAt);
      const pause = Math.min(retryAfterMs, MAX_RETRY_DELAY_MS) * (0.75 + Math.random() / 2);
      if (!retriable || Date.now() + pause > giveUpAt) {
        submission.gaveUp = true;
        return;
      }
      await sleep(pause);
    }
  }

  private acknowledge(submission: Submission, id: string): void {
    if (!submission.ids.includes(id)) submission.ids.push(id);
    if (submission.acknowledgedAt === undefined) {
      submission.acknowledgedAt = Date.now();
      this.opts.onAcknowledged?.(id);
    }
  }

  private async takeSlot(): Promise<void> {
    while (this.inFlight >= this.opts.maxInFlight) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    this.inFlight++;
  }

  private releaseSlot(): void {
    this.inFlight--;
    this.slotWaiters.shift()?.();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function networkCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? err.name : 'error';
}
