import type { Logger } from '../../shared/logger';
import type { TaskStore, TaskTotals } from '../../shared/redis/task-store';
import type { TaskStatus } from '../../shared/task';

/** The body of an `event: rates` (docs/api.md, "Live events"). */
export interface RatesReading {
  at: string;
  /** Seconds between the two readings the rates come from (about 1; more after a missed reading). */
  intervalSeconds: number;
  perSecond: TaskTotals;
  counts: Record<TaskStatus, number>;
}

/**
 * Reads the queue's totals and counts once per interval for every admin stream of this process
 * together (one pair of Redis reads, whatever the number of streams), and turns two readings into
 * rates. Runs only while someone listens: the hub starts it with the first admin stream and stops
 * it with the last.
 */
export class RatesSampler {
  private timer: NodeJS.Timeout | undefined;
  private previous: { at: number; totals: TaskTotals } | undefined;
  private reading = false;

  constructor(
    private readonly source: Pick<TaskStore, 'countsAndTotals'>,
    private readonly intervalMs: number,
    private readonly onReading: (reading: RatesReading) => void,
    private readonly logger: Logger,
  ) {}

  /** Takes a first reading now (rates need two), then one per interval. */
  start(): void {
    if (this.timer) return;
    this.previous = undefined;
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    void this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.previous = undefined;
  }

  private async sample(): Promise<void> {
    // A Redis slower than the interval: skip a tick rather than pile readings up; the next
    // rates then cover the longer interval (intervalSeconds says so).
    if (this.reading) return;
    this.reading = true;
    try {
      const { counts, totals } = await this.source.countsAndTotals();
      const at = Date.now();
      const previous = this.previous;
      if (!this.timer) return;
      this.previous = { at, totals };
      if (!previous || at <= previous.at) return;
      const seconds = (at - previous.at) / 1000;
      // A counter that went down (Redis flushed or restored) gives 0, not a negative rate.
      const rate = (name: keyof TaskTotals) =>
        round(Math.max(0, totals[name] - previous.totals[name]) / seconds);
      const perSecond: TaskTotals = {
        submitted: rate('submitted'),
        started: rate('started'),
        succeeded: rate('succeeded'),
        failed: rate('failed'),
        cancelled: rate('cancelled'),
      };
      this.onReading({ at: new Date(at).toISOString(), intervalSeconds: round(seconds), perSecond, counts });
    } catch (err) {
      // Redis unreachable: no rates this tick; readiness and the error rate say what is wrong.
      this.logger.debug('queue rates not read', { error: String(err) });
    } finally {
      this.reading = false;
    }
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
