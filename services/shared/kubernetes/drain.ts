import type { DrainRate, QueueStats } from './fleet';

/**
 * The drain rate: how fast tasks reach a final status, from two samples of the finished counts
 * (GET /v1/stats counts succeeded, failed and cancelled tasks ever, so their difference over
 * time is the rate).
 */
export interface CountsSample {
  atMs: number;
  succeeded: number;
  /** succeeded + failed + cancelled. */
  finished: number;
}

export function countsSample(stats: QueueStats, atMs: number): CountsSample {
  const { succeeded = 0, failed = 0, cancelled = 0 } = stats.counts;
  return { atMs, succeeded, finished: succeeded + failed + cancelled };
}

/** The rate between two samples; null when they are not apart in time. */
export function drainRate(older: CountsSample, newer: CountsSample, backlog: number): DrainRate | null {
  const seconds = (newer.atMs - older.atMs) / 1000;
  if (!(seconds > 0)) return null;
  // Counts only grow; a drop means the counters were reset (e.g. a new Redis): no rate then.
  const finishedPerSecond = Math.max(0, newer.finished - older.finished) / seconds;
  const succeededPerSecond = Math.max(0, newer.succeeded - older.succeeded) / seconds;
  return {
    windowSeconds: round(seconds),
    finishedPerSecond: round(finishedPerSecond),
    succeededPerSecond: round(succeededPerSecond),
    etaSeconds: finishedPerSecond > 0 ? round(backlog / finishedPerSecond) : backlog === 0 ? 0 : null,
  };
}

/**
 * Keeps recent samples so each new one gives a rate over up to `windowMs`: `spillway fleet --watch`
 * adds one per redraw, GET /v1/fleet one per request.
 */
export class DrainMeter {
  private samples: CountsSample[] = [];

  /**
   * @param windowMs the longest span a rate covers (default 60 s): long enough to smooth bursts.
   * @param minSpanMs the shortest (default 1 s): closer samples give a noisy rate.
   */
  constructor(
    private readonly windowMs = 60_000,
    private readonly minSpanMs = 1000,
  ) {}

  /** Whether a sample taken at `nowMs` would get a rate without waiting for another one. */
  hasBaseline(nowMs: number): boolean {
    return this.baseline(nowMs) !== undefined;
  }

  /** Records the sample; the rate since the oldest sample in the window, or null if there is none. */
  add(sample: CountsSample, backlog: number): DrainRate | null {
    const base = this.baseline(sample.atMs);
    const kept = this.samples.filter((s) => s.atMs >= sample.atMs - this.windowMs);
    const last = kept[kept.length - 1];
    // Under frequent requests, keep a few samples per second at most: memory stays bounded.
    if (!last || sample.atMs - last.atMs >= this.minSpanMs / 2) kept.push(sample);
    this.samples = kept;
    return base ? drainRate(base, sample, backlog) : null;
  }

  private baseline(nowMs: number): CountsSample | undefined {
    return this.samples.find((s) => s.atMs >= nowMs - this.windowMs && s.atMs <= nowMs - this.minSpanMs);
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
