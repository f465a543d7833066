import type { LaneName } from '../shared/lanes/priority';

interface Waiter {
  grant(): void;
}

/**
 * The worker's concurrency slots (WORKER_CONCURRENCY), shared by its lanes. While every slot is
 * busy, each lane's tasks wait in the lane's own line, and a freed slot goes straight to one of
 * them, chosen by weight (stride scheduling): with high 6, normal 3, low 1, overflow 1, a backlog
 * of low tasks gets one slot in eleven while every other lane has tasks waiting, and every slot as
 * soon as they have none (work-conserving). A slot is never free while a line waits, so no lane can
 * slip past the weights by asking at the right moment.
 */
export class LaneSlots {
  private used = 0;
  private readonly lines = new Map<LaneName, Waiter[]>();
  /** Stride scheduling's pass per lane: the lane with the lowest pass among those waiting is next. */
  private readonly pass = new Map<LaneName, number>();
  /** The pass of the last grant: a lane that starts waiting joins from here, not from its old pass. */
  private clock = 0;
  private readonly drainWaiters: (() => void)[] = [];

  constructor(
    readonly size: number,
    private readonly weights: Readonly<Record<LaneName, number>>,
  ) {
    for (const [lane, weight] of Object.entries(weights)) {
      if (!(weight > 0)) throw new Error(`lane ${lane}'s weight must be above 0, not ${weight}`);
    }
  }

  get full(): boolean {
    return this.used >= this.size;
  }

  get inUse(): number {
    return this.used;
  }

  /**
   * Takes a slot for a task of `lane`: at once if one is free, else when the weights hand it one.
   * With `maxWaitMs`, gives up after it and resolves false holding nothing (the caller heartbeats
   * and asks again, keeping its place in no line: its lane's pass is what keeps its share).
   */
  acquire(lane: LaneName, maxWaitMs?: number): Promise<boolean> {
    if (!this.full) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const line = this.lines.get(lane) ?? [];
      if (line.length === 0) this.pass.set(lane, Math.max(this.pass.get(lane) ?? 0, this.clock));
      this.lines.set(lane, line);
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        grant() {
          clearTimeout(timer);
          resolve(true);
        },
      };
      line.push(waiter);
      if (maxWaitMs !== undefined) {
        timer = setTimeout(() => {
          const at = line.indexOf(waiter);
          if (at >= 0) line.splice(at, 1);
          resolve(false);
        }, maxWaitMs);
      }
    });
  }

  /** Frees a slot: it goes to the next lane by weight, or back to the pool if no line waits. */
  release(): void {
    const next = this.nextLane();
    if (next === undefined) {
      this.used--;
      if (this.used === 0) for (const wake of this.drainWaiters.splice(0)) wake();
      return;
    }
    const pass = this.pass.get(next)!;
    this.clock = pass;
    this.pass.set(next, pass + 1 / this.weights[next]);
    // The slot changes hands without ever being free.
    this.lines.get(next)!.shift()!.grant();
  }

  /** Resolves once no slot is in use. */
  drained(): Promise<void> {
    if (this.used === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Tasks of each lane waiting for a slot now. */
  waiting(): Record<string, number> {
    return Object.fromEntries([...this.lines].map(([lane, line]) => [lane, line.length]));
  }

  private nextLane(): LaneName | undefined {
    let best: LaneName | undefined;
    for (const [lane, line] of this.lines) {
      if (line.length === 0) continue;
      const [mine, theirs] = [this.pass.get(lane)!, best && this.pass.get(best)!];
      // A tie goes to the heavier lane: high before normal before low when all start together.
      if (
        best === undefined ||
        mine < theirs! ||
        (mine === theirs && this.weights[lane] > this.weights[best])
      )
        best = lane;
    }
    return best;
  }
}
