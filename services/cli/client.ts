import { setTimeout as sleep } from 'node:timers/promises';
import { SPILLWAY_VERSION } from '../shared/version';
import { CliError, EXIT } from './exit-codes';

export interface ErrorDetail {
  field?: string;
  message: string;
}

/** What to do about an answer that says the key is wrong or not enough. */
const HINTS: Record<number, string> = {
  401: ' (set SPILLWAY_API_KEY to a key of API_KEYS or the keys file)',
  403: " (this key's scopes do not allow it: docs/tenants.md#scopes)",
};

/** The API answered with its error shape (or something else that is not 2xx). */
export class ApiResponseError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
    readonly details: ErrorDetail[],
    readonly retryAfterSeconds: number | undefined,
    hint = '',
  ) {
    super(
      EXIT.apiError,
      [`API error ${status} ${code}: ${apiMessage}${hint}`, ...details.map(showDetail)].join('\n'),
    );
    this.name = 'ApiResponseError';
  }
}

function showDetail(d: ErrorDetail): string {
  return `  - ${d.field ? `${d.field}: ` : ''}${d.message}`;
}

export interface CallOptions {
  json?: unknown;
  headers?: Record<string, string>;
  /** Longest wait for the answer (default: the client's). */
  timeoutMs?: number;
}

/** Answers worth retrying with the same request: busy, limited or not yet settled. */
const RETRIABLE = (err: ApiResponseError) =>
  err.status === 503 || err.status === 429 || err.code === 'idempotency_request_in_progress';

/** The API over fetch: JSON in and out, errors as CliErrors with the exit code they mean. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey?: string,
    /** Longest wait for one answer, default 30 s (long-polls add their wait). */
    private readonly timeoutMs = 30_000,
  ) {}

  async call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const headers: Record<string, string> = {
      ...this.baseHeaders('application/json'),
      ...(options.json !== undefined && { 'content-type': 'application/json' }),
      ...options.headers,
    };
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers,
        ...(options.json !== undefined && { body: JSON.stringify(options.json) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw this.unreachable(err, timeoutMs);
    }
    if (res.ok) return parseJson(text) as T;
    throw errorOf(res, text);
  }

  /**
   * A GET whose body is read as it arrives (GET /v1/events): the Response once the API answered
   * 2xx within the timeout; `signal` ends the request and its body. Errors as call()'s.
   */
  async stream(path: string, signal: AbortSignal): Promise<Response> {
    const answered = new AbortController();
    // Only the answer's headers are timed: the body of a stream never ends by itself.
    const timer = setTimeout(
      () => answered.abort(new DOMException('timed out', 'TimeoutError')),
      this.timeoutMs,
    );
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        headers: this.baseHeaders('text/event-stream'),
        signal: AbortSignal.any([signal, answered.signal]),
      });
    } catch (err) {
      throw this.unreachable(signal.aborted ? err : (answered.signal.reason ?? err), this.timeoutMs);
    } finally {
      clearTimeout(timer);
    }
    if (res.ok) return res;
    throw errorOf(res, await res.text().catch(() => ''));
  }

  private baseHeaders(accept: string): Record<string, string> {
    return {
      accept,
      'user-agent': `spillway-cli/${SPILLWAY_VERSION}`,
      ...(this.apiKey && { authorization: `Bearer ${this.apiKey}` }),
    };
  }

  /**
   * call(), again after Retry-After (1 s by default, at most 30 s) while the API answers 503, 429
   * or "idempotency request in progress"; only for requests safe to repeat (an Idempotency-Key).
   */
  async callWithRetries<T>(method: string, path: string, options: CallOptions, retries: number): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.call<T>(method, path, options);
      } catch (err) {
        if (!(err instanceof ApiResponseError && RETRIABLE(err)) || attempt >= retries) throw err;
        await sleep(Math.min(30, err.retryAfterSeconds ?? 1) * 1000);
      }
    }
  }

  private unreachable(err: unknown, timeoutMs: number): CliError {
    const name = (err as { name?: string }).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new CliError(
        EXIT.unreachable,
        `API ${this.baseUrl} did not answer within ${timeoutMs / 1000} s: check that it is running and not overloaded`,
      );
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
    return new CliError(
      EXIT.unreachable,
      `API ${this.baseUrl} unreachable (${why}): start it (npm run dev) or point --url or SPILLWAY_URL at it`,
    );
  }
}

/** The API's error shape (or whatever else a non-2xx answer holds) as an ApiResponseError. */
function errorOf(res: Response, text: string): ApiResponseError {
  const error = (
    parseJson(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined
  )?.error;
  const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
  return new ApiResponseError(
    res.status,
    typeof error?.code === 'string' ? error.code : `http_${res.status}`,
    typeof error?.message === 'string' ? error.message : text.slice(0, 200) || res.statusText,
    Array.isArray(error?.details) ? (error.details as ErrorDetail[]) : [],
    Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
    HINTS[res.status] ?? '',
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
