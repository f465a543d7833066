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

  run<T>(key: string | undefined, work: () => Promise<T>): Promise<T> {
    if (key === undefined) return work();
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
