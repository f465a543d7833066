/**
 * Which offsets of one partition are taken and not finished, and how far the partition may be
 * committed. Tasks of a partition finish out of order; Kafka stores one offset per partition, so
 * only the point below which every task has finished is committed (a contiguous commit). A crash
 * then redelivers what finished above that point, and the status records recognise it.
 *
 * The window runs from the oldest unfinished offset to the newest taken, finished or not: one task
 * that hangs keeps every later one in it. Finishing is O(1) (amortised) however long the window
 * grows, and the worker pauses the partition once the window reaches its cap.
 */
export class PartitionLedger {
  /** Offsets taken, in order (= offset order); those before `head` are committable. */
  private taken: number[] = [];
  private head = 0;
  /** Finished offsets at or after `head`. */
  private readonly finished = new Set<number>();
  private highestSeen = -1;
  /** The offset to commit: everything before it finished. */
  private committable: number | undefined;

  /** The offset expected next, or undefined before the first. */
  expected(): number | undefined {
    return this.highestSeen < 0 ? undefined : this.highestSeen + 1;
  }

  /** True if `offset` was taken already (kafkajs fetches again from the last commit). */
  seen(offset: number): boolean {
    return offset <= this.highestSeen;
  }

  start(offset: number): void {
    this.taken.push(offset);
    this.highestSeen = offset;
  }

  finish(offset: number): void {
    this.finished.add(offset);
    while (this.head < this.taken.length && this.finished.delete(this.taken[this.head]!)) {
      this.committable = this.taken[this.head]! + 1;
      this.head++;
    }
    // Drop the committable prefix now and then, never per call: that would make finishing O(n).
    if (this.head >= 1024 && this.head * 2 >= this.taken.length) {
      this.taken = this.taken.slice(this.head);
      this.head = 0;
    }
  }

  /** The next offset to commit, if it moved since `after`. */
  commitOffset(after: number | undefined): number | undefined {
    return this.committable !== undefined && this.committable !== after ? this.committable : undefined;
  }

  /** Offsets in the window: from the oldest unfinished to the newest taken. */
  get size(): number {
    return this.taken.length - this.head;
  }

  /** Tasks taken and not finished. */
  inFlight(): number {
    return this.size - this.finished.size;
  }
}
