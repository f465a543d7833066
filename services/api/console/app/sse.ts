import { API_ROOT, ApiFailure, authHeaders, failureOf, keyStore, refusedKey } from './api';

/**
 * Reads GET /v1/events. EventSource cannot send an Authorization header, so this is fetch and a
 * stream reader, with EventSource's manners: it reconnects after the delay the server's `retry:`
 * line asks for, and treats a silent stream (no keep-alive in 45 s: a proxy that dropped it
 * without closing) as a broken one.
 */

export interface StreamHandlers {
  /** One dispatched event: its name (`message` when the server gave none) and its data. */
  onEvent(name: string, data: string): void;
  /** Connected (again): events may have been missed while it was not. */
  onOpen?(): void;
  /** A refusal that retrying will not fix (403, 404, 422); the stream stops. */
  onRefused?(failure: ApiFailure): void;
}

const STALL_MS = 45_000;
const DEFAULT_RETRY_MS = 2000;

/** Opens the stream; the returned function closes it for good. */
export function openEventStream(params: URLSearchParams, handlers: StreamHandlers): () => void {
  let closed = false;
  let retryMs = DEFAULT_RETRY_MS;
  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = async (): Promise<void> => {
    controller = new AbortController();
    const search = params.toString();
    const key = keyStore.get();
    let res: Response;
    try {
      res = await fetch(`${API_ROOT}/v1/events${search ? `?${search}` : ''}`, {
        headers: { Accept: 'text/event-stream', ...authHeaders(key) },
        cache: 'no-store',
        signal: controller.signal,
      });
    } catch {
      return reconnect();
    }
    if (!res.ok || !res.body) {
      const failure = await failureOf(res);
      if (res.status === 401) return refusedKey(key);
      // Too many streams on this API process, or a passing failure: try again later.
      if (res.status === 503 || res.status >= 500 || res.status === 429) return reconnect(5000);
      return handlers.onRefused?.(failure);
    }
    handlers.onOpen?.();
    try {
      await read(res.body, controller);
    } catch {
      // Aborted (closed, or stalled) or cut: either way the loop below decides.
    }
    reconnect();
  };

  const read = async (body: ReadableStream<Uint8Array>, abort: AbortController): Promise<void> => {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new EventParser((name, data) => handlers.onEvent(name, data));
    let stall = setTimeout(() => abort.abort(), STALL_MS);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        clearTimeout(stall);
        stall = setTimeout(() => abort.abort(), STALL_MS);
        const retry = parser.push(decoder.decode(value, { stream: true }));
        if (retry !== undefined) retryMs = retry;
      }
    } finally {
      clearTimeout(stall);
    }
  };

  const reconnect = (atLeastMs = 0): void => {
    if (closed) return;
    timer = setTimeout(() => void connect(), Math.max(retryMs, atLeastMs));
  };

  void connect();
  return () => {
    closed = true;
    clearTimeout(timer);
    controller?.abort();
  };
}

/** The text/event-stream format (WHATWG HTML, server-sent events), fed a chunk at a time. */
export class EventParser {
  private buffer = '';
  private name = '';
  private data: string[] = [];

  constructor(private readonly dispatch: (name: string, data: string) => void) {}

  /** Parses what arrived; returns the last `retry:` delay in it, if any. */
  push(chunk: string): number | undefined {
    this.buffer += chunk;
    let retry: number | undefined;
    // A line ends at \r\n, \n or \r; a \r at the very end may be the first half of a \r\n.
    const lines = this.buffer.split(/\r\n|\n|\r(?!$)/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') {
        this.flush();
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.name = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
    }
    return retry;
  }

  private flush(): void {
    if (this.data.length > 0) this.dispatch(this.name || 'message', this.data.join('\n'));
    this.name = '';
    this.data = [];
  }
}
