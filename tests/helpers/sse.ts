import { SseParser, type ServerSentEvent } from '../../services/cli/event-stream';
import type { TaskEventData } from '../../services/shared/task-event-wire';

/** GET /v1/events as a browser would read it: fetch and a stream reader, events parsed as they come. */
export interface EventStreamClient {
  status: number;
  headers: Headers;
  /** The body of an answer that is not a stream (an error), parsed. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  /** Everything received so far, as text (comments included). */
  text(): string;
  events: ServerSentEvent[];
  /** Task events' data, parsed, in the order received. */
  tasks(): TaskEventData[];
  /** Resolves when the body ends cleanly, rejects when it breaks. */
  ended: Promise<void>;
  /** Polls `probe` over what came so far until it returns a value (not undefined). */
  until<T>(probe: () => T | undefined, what: string, timeoutMs?: number): Promise<T>;
  close(): void;
}

export async function openEvents(baseUrl: string, query = '', key?: string): Promise<EventStreamClient> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/v1/events${query}`, {
    headers: { accept: 'text/event-stream', ...(key && { authorization: `Bearer ${key}` }) },
    signal: abort.signal,
  });
  let raw = '';
  const events: ServerSentEvent[] = [];
  let body: unknown;
  let ended: Promise<void> = Promise.resolve();
  if (!res.ok || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
    const text = await res.text();
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  } else {
    const parser = new SseParser();
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    ended = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        raw += value;
        events.push(...parser.push(value));
      }
    })();
    // A test that closes the stream itself does not wait for its end.
    ended.catch(() => undefined);
  }
  return {
    status: res.status,
    headers: res.headers,
    body,
    text: () => raw,
    events,
    tasks: () => events.filter((e) => e.event === 'task').map((e) => JSON.parse(e.data) as TaskEventData),
    ended,
    async until(probe, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () => abort.abort(),
  };
}
