import { setMaxListeners } from 'node:events';
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { poisonEntry, type DeadLetter } from '../shared/dead-letter';
import type { TaskMessage } from '../shared/task';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { decodeTaskMessage, PoisonMessageError } from '../shared/task-message';
import type { Lane } from '../shared/kafka/names';
import type { WorkerEvents } from './events';
import type { SharedCapacity } from './lanes';
import { ShutdownInterruption } from './handler-run';
import { PartitionLedger } from './partition-ledger';
import type { TenantGate } from './tenant-gate';
import { PauseWaitAborted, type PauseGate } from './pause-gate';
import { keyBacklogLimit, PAUSE_HOLD_LIMIT, PartitionHolds, WINDOW_LIMIT } from './partition-holds';

// The limits PartitionHolds enforces, where the worker's callers (and its tests) have found them.
export { keyBacklogLimit, PAUSE_HOLD_LIMIT, WINDOW_LIMIT };

export interface WorkerDeps {
  consumer: Consumer;
  /** The lane this consumer drains: its name and topic. */
  lane: Pick<Lane, 'name' | 'topic'>;
  capacity: SharedCapacity;
  /** How often finished offsets are committed (COMMIT_INTERVAL_MS). */
  commitIntervalMs: number;
  /**
   * Runs one task to its outcome; throws ShutdownInterruption to leave it uncommitted. Calls
   * `handlerDone` once the handler has settled (its slot is then free while the outcome is written).
   */
  run(task: ReturnType<typeof decodeTaskMessage>, handlerDone: () => void): Promise<void>;
  /** Dead-letters a message that is not a task; resolves once recorded. */
  deadLetterPoison(entry: DeadLetter): Promise<void>;
  events: WorkerEvents;
  logger: Logger;
  /** Called when kafkajs gives up on the consumer (a crash it does not restart): nothing more is consumed. */
  onConsumerLost(error: Error): void;
  /** Offsets a partition's commit window may hold before the partition pauses (default WINDOW_LIMIT). */
  windowLimit?: number;
  /** Tenants' max-running across the fleet; absent: none. */
  gate?: TenantGate;
  /** The queue's pause state (POST /v1/queue/pause); absent: never paused. */
  pauses?: Pick<PauseGate, 'queuePaused' | 'holds' | 'hold' | 'onChange'>;
  /** Tasks of a paused type a partition may hold before it pauses (default PAUSE_HOLD_LIMIT). */
  pauseHoldLimit?: number;
}

export interface Worker {
  /** Connects, joins the consumer group and starts consuming; resolves once consuming started. */
  start(): Promise<void>;
  /**
   * Stops fetching, lets running tasks finish within `drainMs` (then aborts their signals and
   * leaves them to be redelivered), commits what finished, leaves the group. Safe to call twice.
   */
  stop(drainMs: number): Promise<void>;
  /** True while the worker is a member of its consumer group. */
  isReady(): boolean;
  /** Aborted when shutdown runs out of drain time; handed to task runs. */
  readonly shutdownSignal: AbortSignal;
}

/** The concurrency slot one dispatched task holds while its handler runs. */
interface TaskSlot {
  /** Frees the slot; a no-op once freed. */
  free(): void;
  /** Takes a slot again, waiting for one to free, unless still held. */
  retake(): Promise<void>;
}

/** Heartbeat interval while waiting for a free slot: well under any session timeout. */
const HEARTBEAT_WHILE_FULL_MS = 1000;

/** Longest wait before an unexpected failure of a task run is tried again. */
const RERUN_DELAY_MS = 5000;

/**
 * Consumes the tasks topic with up to `concurrency` tasks in flight, from any partition and
 * within one (tasks sharing a key still run one at a time, in order). kafkajs' own commits are
 * off: only offsets below which every task finished are committed (PartitionLedger). While
 * every slot is busy nothing more is taken, so memory stays bounded; a task takes its slot only
 * when its key's turn comes, so a backlog of one key holds no slot, and pauses only its own
 * partition once it reaches keyBacklogLimit.
 */
export function createWorker(deps: WorkerDeps): Worker {
  const { consumer, logger, events } = deps;
  const { slots, unfinished, keys: keyLanes } = deps.capacity;
  const { topic, name: laneName } = deps.lane;
  const shutdown = new AbortController();
  /** Per assigned partition; a partition that leaves and comes back starts afresh. */
  let progress = new Map<number, PartitionLedger>();
  const queuePaused = () => deps.pauses?.queuePaused ?? false;
  const holds = new PartitionHolds({
    consumer,
    topic,
    logger,
    keyLimit: keyBacklogLimit(slots.size),
    windowLimit: deps.windowLimit ?? WINDOW_LIMIT,
    pauseHoldLimit: deps.pauseHoldLimit ?? PAUSE_HOLD_LIMIT,
    keyBacklog: (key) => keyLanes.backlog(key),
    windowOf: (partition) => progress.get(partition)?.size ?? 0,
    queuePaused,
  });
  const committed = new Map<number, number>();
  const highWatermarks = new Map<number, number>();
  const gapsAccepted = new Set<string>();
  let joined = false;
  /** Set by stop(): no new task is taken from then on. */
  let draining = false;
  /** Aborted by stop(): tasks held by a pause give up their wait and stay uncommitted. */
  const drainStarted = new AbortController();
  // One listener per task held by a pause (at most pauseHoldLimit a partition): not a leak.
  setMaxListeners(0, drainStarted.signal);
  let stopping: Promise<void> | undefined;
  let commitTimer: NodeJS.Timeout | undefined;

  /** When kafkajs noticed the group rebalancing; nothing is fetched until it has rejoined. */
  let rebalancingSince: number | undefined;
  consumer.on(consumer.events.REBALANCING, () => {
    rebalancingSince ??= Date.now();
    logger.info('consumer group rebalancing');
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    joined = true;
    // kafkajs rebalances eagerly: every member stops fetching from here until it has rejoined,
    // so this is how long a scale step (a worker joining or leaving) held this worker's intake.
    const rebalanceMs = rebalancingSince === undefined ? undefined : Date.now() - rebalancingSince;
    rebalancingSince = undefined;
    if (rebalanceMs !== undefined) events.rebalanced(rebalanceMs / 1000);
    const assigned = new Set(event.payload.memberAssignment[topic] ?? []);
    // Partitions kept across the rebalance keep their progress (their in-flight tasks are
    // still ours and refetched offsets are skipped); others are forgotten, and completions of
    // tasks from a lost partition are no longer committed (the new owner redelivers them).
    progress = new Map([...assigned].map((p) => [p, progress.get(p) ?? new PartitionLedger()]));
    holds.rejoined([...assigned]);
    for (const p of committed.keys()) if (!assigned.has(p)) committed.delete(p);
    logger.info('joined consumer group', { partitions: [...assigned], rebalanceMs });
  });
  consumer.on(consumer.events.CRASH, (event) => {
    joined = false;
    logger.error('consumer crashed', { error: String(event.payload.error), restart: event.payload.restart });
    if (!event.payload.restart) deps.onConsumerLost(event.payload.error);
  });
  consumer.on(consumer.events.STOP, () => {
    joined = false;
  });
  deps.pauses?.onChange(() => holds.queuePauseChanged([...progress.keys()]));

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const partition = batch.partition;
    const tracker = progress.get(partition);
    if (!tracker) return; // a batch fetched before a rebalance took the partition away
    highWatermarks.set(partition, Number(batch.highWatermark));
    // A queue-wide pause also stops a batch fetched before it: the rest comes again after it.
    const taking = () => payload.isRunning() && !payload.isStale() && !draining && !queuePaused();
    /** Heartbeats while waiting; false when this batch must stop taking tasks. */
    const stillRunning = async () => {
      try {
        await payload.heartbeat();
      } catch {
        return false; // a rebalance: this offset stays unresolved and is fetched again
      }
      return taking();
    };
    for (const message of batch.messages) {
      // Held: what was fetched before the pause stays unresolved and comes again after it.
      if (!taking() || holds.isHeld(partition)) return;
      const offset = Number(message.offset);
      if (tracker.seen(offset)) {
        // Fetched again (kafkajs restarts fetching from the last commit): in flight or done.
        payload.resolveOffset(message.offset);
        continue;
      }
      const expected = tracker.expected();
      if (expected !== undefined && offset > expected && !gapsAccepted.has(`${partition}:${expected}`)) {
        // Our topics have no gaps (no compaction, no transactions), so one means messages were
        // skipped: fetch again from the first one we have not seen. If the same gap comes back,
        // retention removed those messages and there is nothing to fetch.
        gapsAccepted.add(`${partition}:${expected}`);
        logger.warn('offset gap; fetching again from the expected offset', {
          partition,
          expected,
          got: offset,
        });
        consumer.seek({ topic, partition, offset: String(expected) });
        return;
      }
      const key = message.key?.toString();
      if (holds.holdIfFull(partition, key)) return;
      // Backpressure: while every slot is busy, nothing more is taken from Kafka. Waiting here
      // (heartbeating) rather than pausing the partition: kafkajs fetches a resumed partition
      // only after its next long-poll, which would idle the slots for up to maxWaitTimeInMs.
      // The slot is taken here, in this lane's line (its weight decides when), unless the task
      // will wait behind its key: it takes one when its turn comes.
      while (unfinished.full) {
        await unfinished.freed(HEARTBEAT_WHILE_FULL_MS);
        if (!(await stillRunning())) return;
      }
      const runsNow = key === undefined || keyLanes.backlog(key) === 0;
      while (runsNow && !(await slots.acquire(laneName, HEARTBEAT_WHILE_FULL_MS))) {
        if (!(await stillRunning())) return;
      }
      if (runsNow && !taking()) {
        slots.release();
        return;
      }
      tracker.start(offset);
      // Unconditional: another lane may have filled `unfinished` while this one waited for its
      // slot, so it may run over by one per lane; it is a bound on memory, not on work.
      unfinished.take();
      // Resolving only moves kafkajs' fetch position: with autoCommit off it commits nothing.
      payload.resolveOffset(message.offset);
      void dispatch(message, partition, tracker, runsNow);
    }
    await payload.heartbeat();
  }

  async function dispatch(
    message: KafkaMessage,
    partition: number,
    tracker: PartitionLedger,
    slotTaken: boolean,
  ): Promise<void> {
    let finished = false;
    let slotHeld = slotTaken;
    const slot: TaskSlot = {
      // The next task starts while this one's outcome is written: the two Redis writes then
      // share a round trip instead of following each other.
      free() {
        if (slotHeld) slots.release();
        slotHeld = false;
      },
      async retake() {
        if (slotHeld) return;
        await slots.acquire(laneName);
        slotHeld = true;
      },
    };
    try {
      finished = await processOnce(message, partition, tracker, slot);
    } finally {
      if (finished) tracker.finish(Number(message.offset));
      slot.free();
      unfinished.release();
      holds.resumeIfDrained(partition);
    }
  }

  /** True when the message is done with (commit past it); false to leave it for redelivery. */
  async function processOnce(
    message: KafkaMessage,
    partition: number,
    tracker: PartitionLedger,
    slot: TaskSlot,
  ): Promise<boolean> {
    let task;
    try {
      task = decodeTaskMessage(message.value);
    } catch (err) {
      if (!(err instanceof PoisonMessageError)) throw err;
      events.poisonMessage();
      logger.error('poison message dead-lettered', {
        partition,
        offset: message.offset,
        reason: err.message,
      });
      await deps.deadLetterPoison(poisonEntry(topic, partition, message, err));
      return true;
    }
    const key = message.key?.toString() ?? task.key;
    // The slot is taken when the key's turn comes, not before: a task waiting behind others of
    // its key holds none. One that has not started when a drain begins is left to the next owner.
    // A task whose tenant runs its max-running waits without its slot, so others' tasks run.
    const turn = async () => {
      for (let again = false; ; again = true) {
        // A task of a paused scope waits without its slot (taken with it when the task was
        // fetched); a pause that came while it waited for a slot gives the slot back.
        for (;;) {
          if (deps.pauses?.holds(task.type)) {
            slot.free();
            await holdWhilePaused(task, partition, tracker);
          }
          await slot.retake();
          if (!deps.pauses?.holds(task.type)) break;
        }
        if (draining || shutdown.signal.aborted) throw new ShutdownInterruption(task.id);
        const permit = deps.gate ? await deps.gate.tryEnter(task) : undefined;
        if (permit || !deps.gate) {
          // The tenant's place, like the slot, is free once the handler settled.
          const handlerDone = () => {
            slot.free();
            permit?.release();
          };
          try {
            return await deps.run(task, handlerDone);
          } finally {
            permit?.release();
          }
        }
        slot.free();
        await deps.gate.wait(task, shutdown.signal, again);
      }
    };
    for (;;) {
      try {
        await keyLanes.run(key, turn);
        return true;
      } catch (err) {
        if (err instanceof ShutdownInterruption || shutdown.signal.aborted) return false;
        // Not a task failure (those are outcomes): a bug or an outage outside Redis and Kafka.
        // The offset must not be committed past an unfinished task, so try again.
        logger.error('task run failed unexpectedly; trying again', {
          taskId: task.id,
          error: errorMessage(err),
        });
        await new Promise((resolve) => setTimeout(resolve, RERUN_DELAY_MS));
        if (shutdown.signal.aborted) return false;
      }
    }
  }

  /**
   * Waits while the task's scope is paused, without a slot and outside the `unfinished` bound,
   * so held tasks of a paused type cannot stop other types' intake (their partition pauses at
   * pauseHoldLimit instead). The task stays uncommitted meanwhile; a drain leaves it to the next
   * owner, and so does a rebalance that took its partition away during the pause.
   */
  async function holdWhilePaused(task: TaskMessage, partition: number, tracker: PartitionLedger) {
    const { id, type } = task;
    if (!deps.pauses?.holds(type)) return;
    holds.countHeldByPause(partition, 1);
    unfinished.release();
    try {
      await deps.pauses.hold(type, drainStarted.signal);
    } catch (err) {
      throw err instanceof PauseWaitAborted ? new ShutdownInterruption(id) : err;
    } finally {
      unfinished.take();
      holds.countHeldByPause(partition, -1);
    }
    // The partition's new owner fetches this task again: running it here too would run it twice.
    if (progress.get(partition) !== tracker) throw new ShutdownInterruption(id);
  }

  async function commit(): Promise<void> {
    const offsets = [...progress.entries()].flatMap(([partition, tracker]) => {
      const offset = tracker.commitOffset(committed.get(partition));
      return offset === undefined ? [] : [{ topic, partition, offset: String(offset) }];
    });
    for (const [partition] of progress) {
      const high = highWatermarks.get(partition);
      if (high !== undefined)
        events.partitionLag(laneName, partition, high - (committed.get(partition) ?? 0));
    }
    if (offsets.length === 0) return;
    try {
      await consumer.commitOffsets(offsets);
      for (const { partition, offset } of offsets) committed.set(partition, Number(offset));
    } catch (err) {
      // A rebalance in progress: the next owner redelivers past the last commit; nothing is lost.
      logger.warn('commit failed; will retry', { error: errorMessage(err) });
    }
  }

  return {
    shutdownSignal: shutdown.signal,
    async start() {
      await consumer.connect();
      // fromBeginning: a group with no committed offsets must still run the tasks queued before it.
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });
      commitTimer = setInterval(() => void commit(), deps.commitIntervalMs);
    },
    stop(drainMs) {
      stopping ??= (async () => {
        // Stop taking tasks first, keep the group membership while tasks drain, so commits still count.
        draining = true;
        holds.stop();
        drainStarted.abort();
        try {
          consumer.pause([{ topic }]);
        } catch {
          // A consumer kafkajs gave up on (see onConsumerLost) cannot pause, and fetches nothing.
        }
        const deadline = setTimeout(() => shutdown.abort(), drainMs);
        await unfinished.drained();
        clearTimeout(deadline);
        clearInterval(commitTimer);
        await commit();
        await consumer.disconnect();
      })();
      return stopping;
    },
    isReady: () => joined,
  };
}
