/** A counted limit on tasks running at once in this process (WORKER_CONCURRENCY). */
export class Slots {
  private used = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly size: number) {}

  get full(): boolean {
    return this.used >= this.size;
  }

  get inUse(): number {
    return this.used;
  }

  take(): void {
    this.used++;
  }

  /** Takes a slot, waiting for one to free first when all are in use. */
  async acquire(): Promise<void> {
    while (this.full) await this.freed();
    this.used++;
  }

  release(): void {
    this.used--;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves the next time a slot is released, or after `maxWaitMs` if given. */
  freed(maxWaitMs?: number): Promise<void> {
    return new Promise((resolve) => {
      if (maxWaitMs === undefined) return void this.waiters.push(resolve);
      // Cleared on release: one timer per wait would otherwise outlive it by up to maxWaitMs.
      const timer = setTimeout(resolve, maxWaitMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves once nothing runs. */
  async drained(): Promise<void> {
    while (this.used > 0) await this.freed();
  }
}

/**
 * Tasks that share a key run one at a time, in the order they were dispatched (a partition
 * delivers them in submission order, since the key picked the partition).
 */
export class KeyLanes {
  private readonly tails = new Map<string, Promise<unknown>>();
  /** Works of each key handed to run() and not settled yet: the one running and those behind it. */
  private readonly pending = new Map<string, number>();

  run<T>(key: string | undefined, work: () => Promise<T>): Promise<T> {
    if (key === undefined) return work();
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      const left = this.pending.get(key)! - 1;
      if (left > 0) this.pending.set(key, left);
      else this.pending.delete(key);
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Works of `key` not settled yet (running, or waiting their turn). */
  backlog(key: string): number {
    return this.pending.get(key) ?? 0;
  }
}
