/** A progress bar on stderr; Output.progress() hands out the silent one when stderr is not a terminal. */
export interface Progress {
  /** `n` more items done; `status` is shown after the count (e.g. "2 failed"). */
  advance(n?: number, status?: string): void;
  /** Clears the bar, leaving the terminal as it was. */
  done(): void;
}

export const NO_PROGRESS: Progress = { advance: () => undefined, done: () => undefined };

const WIDTH = 30;
/** Redraws at most this often: a bar that redraws per item slows a big run. */
const REDRAW_MS = 100;

export class ProgressBar implements Progress {
  private count = 0;
  private status = '';
  private drawnAt = 0;

  constructor(
    private readonly stream: { write(text: string): unknown },
    private readonly total: number,
    private readonly label: string,
  ) {
    this.draw();
  }

  advance(n = 1, status?: string): void {
    this.count += n;
    if (status !== undefined) this.status = status;
    if (this.count >= this.total || Date.now() - this.drawnAt >= REDRAW_MS) this.draw();
  }

  done(): void {
    this.stream.write('\r\x1b[K');
  }

  private draw(): void {
    this.drawnAt = Date.now();
    const share = this.total > 0 ? Math.min(1, this.count / this.total) : 1;
    const filled = Math.round(share * WIDTH);
    const bar = '#'.repeat(filled) + '-'.repeat(WIDTH - filled);
    const status = this.status ? `  ${this.status}` : '';
    this.stream.write(`\r${this.label} [${bar}] ${this.count}/${this.total}${status}\x1b[K`);
  }
}
