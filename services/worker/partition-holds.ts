import type { Consumer } from 'kafkajs';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';

/**
 * Tasks of one key taken and not finished (the one running, the rest waiting their turn) before
 * their partition pauses: they run one at a time, so more would only hold memory. Half the
 * concurrency: the worker takes at most twice its concurrency, so two such backlogs still leave
 * room for a full set of other tasks; and enough that the key's partition, resumed when the
 * backlog falls under the limit, is fetched again (up to a fetch wait later) before the key runs
 * dry for tasks over ~1/limit s.
 */
export function keyBacklogLimit(concurrency: number): number {
  return Math.max(2, Math.floor(concurrency / 2));
}

/**
 * Offsets a partition's window may hold (from its oldest unfinished task to its newest taken)
 * before the partition pauses: a task that runs for hours keeps every later offset uncommitted,
 * and without a cap the window, and what a rebalance redelivers, would grow without end.
 */
export const WINDOW_LIMIT = 10_000;

/**
 * Tasks of a paused type one partition may hold (taken, not started, their messages in memory)
 * before the partition pauses until the type resumes: other types' tasks keep coming from the
 * partition until then, and memory stays bounded however long the pause lasts.
 */
export const PAUSE_HOLD_LIMIT = 500;

export interface PartitionHoldsDeps {
  consumer: Pick<Consumer, 'pause' | 'resume'>;
  topic: string;
  logger: Logger;
  /** Tasks of one key taken and not finished before their partition pauses (keyBacklogLimit). */
  keyLimit: number;
  /** Offsets a partition's window may hold before it pauses (WINDOW_LIMIT). */
  windowLimit: number;
  /** Tasks of a paused type a partition may hold before it pauses (PAUSE_HOLD_LIMIT). */
  pauseHoldLimit: number;
  /** Tasks of `key` taken and not finished. */
  keyBacklog(key: string): number;
  /** Offsets in the partition's window (PartitionLedger.size). */
  windowOf(partition: number): number;
  /** True while the whole queue is paused: nothing is fetched at all. */
  queuePaused(): boolean;
}

/**
 * Which partitions of one lane the worker stopped fetching, and why: a key's backlog, a full
 * window, too many tasks held by a paused type, or the whole queue paused. A partition held for
 * a limit resumes once every limit allows it and the queue is not paused.
 *
 * Partitions are always paused one by one, never the whole topic: kafkajs forgets a topic-wide
 * pause as soon as one partition is paused on its own (SubscriptionState.pause clears pauseAll).
 */
export class PartitionHolds {
  /** Partitions paused for a limit, with the key whose backlog filled (none: window or pause). */
  private readonly held = new Map<number, { key?: string }>();
  /** Tasks of each partition held, unstarted, because their scope is paused. */
  private readonly byPause = new Map<number, number>();
  private stopped = false;

  constructor(private readonly deps: PartitionHoldsDeps) {}

  isHeld(partition: number): boolean {
    return this.held.has(partition);
  }

  /**
   * True, and the partition paused, when taking the next task (of `key`) would pass a limit; the
   * task then stays unresolved and is fetched again once the partition resumes.
   */
  holdIfFull(partition: number, key: string | undefined): boolean {
    const { keyLimit, windowLimit, pauseHoldLimit } = this.deps;
    const windowFull = this.deps.windowOf(partition) >= windowLimit;
    const keyFull = key !== undefined && this.deps.keyBacklog(key) >= keyLimit;
    if (!windowFull && !keyFull && (this.byPause.get(partition) ?? 0) < pauseHoldLimit) return false;
    this.held.set(partition, { key: !windowFull && keyFull ? key : undefined });
    this.setFetching([partition], false);
    this.deps.logger.debug('partition paused until it drains', {
      partition,
      key,
      window: this.deps.windowOf(partition),
      heldByPause: this.byPause.get(partition),
    });
    return true;
  }

  /** Resumes a held partition once every limit allows it, unless the whole queue is paused. */
  resumeIfDrained(partition: number): void {
    const hold = this.held.get(partition);
    if (!hold || this.stopped || this.deps.queuePaused()) return;
    if (hold.key !== undefined && this.deps.keyBacklog(hold.key) >= this.deps.keyLimit) return;
    if (this.deps.windowOf(partition) >= this.deps.windowLimit) return;
    if ((this.byPause.get(partition) ?? 0) >= this.deps.pauseHoldLimit) return;
    this.held.delete(partition);
    this.setFetching([partition], true);
  }

  /** A task of `partition` starts (+1) or stops (-1) waiting for its paused scope. */
  countHeldByPause(partition: number, delta: 1 | -1): void {
    const count = (this.byPause.get(partition) ?? 0) + delta;
    if (count > 0) this.byPause.set(partition, count);
    else this.byPause.delete(partition);
    if (delta < 0) this.resumeIfDrained(partition);
  }

  /**
   * After a rebalance: holds do not survive it (each partition is looked at afresh as its
   * batches come), except that a paused queue fetches nothing, gained partitions included.
   */
  rejoined(assigned: number[]): void {
    this.setFetching([...this.held.keys()], true);
    this.held.clear();
    if (this.deps.queuePaused()) this.setFetching(assigned, false);
  }

  /** The queue was paused or resumed: every assigned partition not held for a limit follows. */
  queuePauseChanged(assigned: number[]): void {
    if (this.stopped) return;
    const paused = this.deps.queuePaused();
    this.setFetching(
      assigned.filter((p) => !this.held.has(p)),
      !paused,
    );
    if (!paused) for (const partition of [...this.held.keys()]) this.resumeIfDrained(partition);
  }

  /** The worker drains: nothing resumes from now on. */
  stop(): void {
    this.stopped = true;
  }

  private setFetching(partitions: number[], fetching: boolean): void {
    if (partitions.length === 0) return;
    const { consumer, topic } = this.deps;
    try {
      if (fetching) consumer.resume([{ topic, partitions }]);
      else consumer.pause([{ topic, partitions }]);
    } catch (err) {
      // A consumer kafkajs gave up on (onConsumerLost) cannot pause, and fetches nothing.
      this.deps.logger.warn('could not pause or resume fetching', { error: errorMessage(err) });
    }
  }
}
