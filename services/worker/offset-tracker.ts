/**
 * Which offsets of one partition are in flight, and how far the partition may be committed.
 * Tasks of a partition finish out of order; Kafka stores one offset per partition, so only the
 * point below which every task has finished is committed (a contiguous commit). A crash then
 * redelivers what finished above that point, and the status records recognise it.
 */
export class PartitionProgress {
  /** Offsets dispatched, in dispatch (= offset) order, each with whether it finished. */
  private readonly window: { offset: number; done: boolean }[] = [];
  private highestSeen = -1;
  /** The offset to commit: everything before it finished. */
  private committable: number | undefined;

  /** The offset expected next, or undefined before the first. */
  expected(): number | undefined {
    return this.highestSeen < 0 ? undefined : this.highestSeen + 1;
  }

  /** True if `offset` was dispatched already (kafkajs fetches again from the last commit). */
  seen(offset: number): boolean {
    return offset <= this.highestSeen;
  }

  start(offset: number): void {
    this.window.push({ offset, done: false });
    this.highestSeen = offset;
  }

  finish(offset: number): void {
    const entry = this.window.find((e) => e.offset === offset);
    if (entry) entry.done = true;
    while (this.window[0]?.done) this.committable = this.window.shift()!.offset + 1;
  }

  /** The next offset to commit, if it moved since `after`. */
  commitOffset(after: number | undefined): number | undefined {
    return this.committable !== undefined && this.committable !== after ? this.committable : undefined;
  }

  inFlight(): number {
    return this.window.filter((e) => !e.done).length;
  }
}
