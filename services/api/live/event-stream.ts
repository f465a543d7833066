import type { Response } from 'express';

/** What a client waits before reconnecting after a stream ends (the stream's first line). */
export const RETRY_MS = 2000;

/**
 * One client's `text/event-stream` answer. Headers go out only once `start` is called, so an
 * error before it (too many streams, Redis unreachable) is still answered as the one JSON error
 * shape. What the client has not read yet is `unsent`: Node's buffer plus the socket's, which is
 * what a slow reader makes this process hold (the kernel's own buffers are bounded by the kernel).
 */
export class EventStream {
  private state: 'waiting' | 'open' | 'ended' = 'waiting';

  constructor(private readonly res: Response) {
    res.on('close', () => (this.state = 'ended'));
  }

  get open(): boolean {
    return this.state === 'open';
  }

  /** Sends the headers and the `retry:` line; does nothing once the stream has ended. */
  start(): void {
    if (this.state !== 'waiting') return;
    this.state = 'open';
    this.res.writeHead(200, {
      // Exactly this type: the one EventSource and SSE readers expect (UTF-8 by definition).
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      // nginx (and ingress-nginx) would otherwise buffer the stream until it ends.
      'X-Accel-Buffering': 'no',
    });
    this.res.write(`retry: ${RETRY_MS}\n\n`);
  }

  /** Writes whole frames (nothing once the stream has ended). */
  write(frames: string): void {
    if (this.state === 'open') this.res.write(frames);
  }

  /** Bytes written and not yet taken by the socket (meaningful once the tick's writes are flushed). */
  get unsent(): number {
    return this.state === 'open' ? this.res.writableLength : 0;
  }

  /** Ends the stream as a normal end (shutdown): what was written still reaches the client. */
  end(): void {
    if (this.state === 'ended') return;
    const started = this.state === 'open';
    this.state = 'ended';
    if (started) this.res.end();
    else this.res.destroy();
  }

  /** Cuts the connection at once, freeing what the client never read (a reader too slow). */
  destroy(): void {
    this.state = 'ended';
    this.res.destroy();
  }
}

/** One SSE frame; `data` is one line of JSON (JSON.stringify never writes a newline). */
export function frame(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}

export const KEEP_ALIVE_FRAME = ': keep-alive\n\n';
