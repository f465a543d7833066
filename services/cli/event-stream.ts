import { setTimeout as sleep } from 'node:timers/promises';
import { ApiResponseError, type ApiClient } from './client';
import { CliError } from './exit-codes';

/** One Server-Sent Event: its `event:` name (default "message") and its `data:` lines joined. */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/**
 * Parses `text/event-stream` as the WHATWG rules say (the part this API uses: `event`, `data`,
 * `retry`, comments; `id` is ignored): lines end in LF, CRLF or CR; a blank line ends an event.
 */
export class SseParser {
  /** The server's `retry:` (ms), once it has sent one. */
  retryMs: number | undefined;
  private rest = '';
  private event = '';
  private data: string[] = [];

  /** Takes the next decoded text; returns the events it completed. */
  push(text: string): ServerSentEvent[] {
    let buffered = this.rest + text;
    // A CR at the very end may be the first half of a CRLF: wait for the next text to know.
    const cr = buffered.endsWith('\r') ? '\r' : '';
    if (cr) buffered = buffered.slice(0, -1);
    const lines = buffered.split(/\r\n|\r|\n/);
    this.rest = lines.pop()! + cr;
    const done: ServerSentEvent[] = [];
    for (const line of lines) {
      if (line === '') {
        if (this.data.length > 0) done.push({ event: this.event || 'message', data: this.data.join('\n') });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    return done;
  }
}

export interface WatchOptions {
  /** Ends the watch (Ctrl-C, SIGTERM): watchEvents then resolves. */
  signal: AbortSignal;
  onEvent(event: ServerSentEvent): void;
  /** The API answered: changes from now on are seen (called at each reconnection too). */
  onOpen?(): void;
  /** Why the stream is being opened again (for stderr). */
  onNote(text: string): void;
  /** Reconnect delay until the server sends its own `retry:` (default 2000 ms). */
  retryMs?: number;
  /** A stream silent this long is taken as dead (the API sends a keep-alive every 15 s; default 60 s). */
  idleMs?: number;
}

/**
 * Follows `path` (GET /v1/events?…) until `signal` aborts: reads events as they come and, when
 * the stream drops (the API restarted, a proxy cut it, this client read too slowly), waits the
 * server's retry delay and opens it again. Events in between are missed: each reconnection is
 * noted. An answer that will not change by retrying (401, 403, 404, 422) ends the watch with it.
 */
export async function watchEvents(client: ApiClient, path: string, options: WatchOptions): Promise<void> {
  const { signal } = options;
  let retryMs = options.retryMs ?? 2000;
  while (!signal.aborted) {
    let why = 'the stream ended';
    let waitMs: number | undefined;
    const parser = new SseParser();
    try {
      const res = await client.stream(path, signal);
      options.onOpen?.();
      await readStream(res, parser, options);
    } catch (err) {
      if (signal.aborted) break;
      if (err instanceof ApiResponseError && !(err.status >= 500 || err.status === 429)) throw err;
      if (!(err instanceof CliError || err instanceof StreamDropped)) throw err;
      why = err.message.split('\n')[0]!;
      // 503 too_many_streams, 429: the API says how long; a stream never opened sent no retry.
      if (err instanceof ApiResponseError && err.retryAfterSeconds !== undefined) {
        waitMs = Math.min(30, err.retryAfterSeconds) * 1000;
      }
    }
    if (signal.aborted) break;
    retryMs = parser.retryMs ?? retryMs;
    waitMs = Math.max(waitMs ?? 0, retryMs);
    options.onNote(`${why}; reconnecting in ${waitMs / 1000} s (events meanwhile are missed)`);
    await sleep(waitMs, undefined, { signal }).catch(() => undefined);
  }
}

class StreamDropped extends Error {}

async function readStream(res: Response, parser: SseParser, options: WatchOptions): Promise<void> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const idleMs = options.idleMs ?? 60_000;
  let idle: NodeJS.Timeout | undefined;
  let silent = false;
  // A half-open connection (a peer gone without a FIN) never ends a read: the keep-alives say
  // the stream is alive, their absence that it is not.
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      silent = true;
      reader.cancel().catch(() => undefined);
    }, idleMs);
  };
  try {
    arm();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (options.signal.aborted) throw err;
        throw new StreamDropped(`the stream broke (${err instanceof Error ? err.message : String(err)})`);
      }
      if (silent) throw new StreamDropped(`nothing came for ${idleMs / 1000} s`);
      if (chunk.done) return;
      arm();
      for (const event of parser.push(chunk.value)) options.onEvent(event);
    }
  } finally {
    clearTimeout(idle);
    reader.cancel().catch(() => undefined);
  }
}
