import type { Consumer } from 'kafkajs';
import type { Lane } from '../shared/kafka/names';
import type { LaneName } from '../shared/lanes/priority';
import { KeyLanes, Slots } from './concurrency';
import { LaneSlots } from './lane-slots';
import { createWorker, type Worker, type WorkerDeps } from './worker';

/**
 * What the lanes of one worker process share: they take slots from one pool, by weight, and
 * tasks of one key run one at a time whichever lane they came from.
 */
export interface SharedCapacity {
  /** Tasks running at once (WORKER_CONCURRENCY). */
  slots: LaneSlots;
  /**
   * Tasks taken and not yet done with: running, waiting for their key's turn, or writing their
   * outcome after the handler freed its slot. Bounded too (twice the slots), so a slow Redis
   * cannot pile up outcomes in memory.
   */
  unfinished: Slots;
  keys: KeyLanes;
}

export function sharedCapacity(
  concurrency: number,
  weights: Readonly<Record<LaneName, number>>,
): SharedCapacity {
  return {
    slots: new LaneSlots(concurrency, weights),
    unfinished: new Slots(concurrency * 2),
    keys: new KeyLanes(),
  };
}

export interface LaneWorkersDeps extends Omit<WorkerDeps, 'consumer' | 'lane' | 'capacity'> {
  lanes: readonly Lane[];
  /** A consumer in `lane.group`: one per lane, so each lane is fetched, and rebalanced, on its own. */
  consumerFor(lane: Lane): Consumer;
  /** Tasks run at once by this process (WORKER_CONCURRENCY), whichever lanes they come from. */
  concurrency: number;
  weights: Readonly<Record<LaneName, number>>;
}

/**
 * One worker per lane, as one: each lane has its own consumer and consumer group, so a backlog
 * of low (or overflow) tasks never stands between a high task and its fetch; the lanes share the
 * process's slots (by weight) and key lines. Started high first; stopped together.
 */
export function createLaneWorkers(deps: LaneWorkersDeps): Worker {
  const { lanes, consumerFor, concurrency, weights, ...common } = deps;
  const capacity = sharedCapacity(concurrency, weights);
  const workers = lanes.map((lane) =>
    createWorker({
      ...common,
      consumer: consumerFor(lane),
      lane,
      capacity,
      logger: common.logger.child({ lane: lane.name }),
    }),
  );
  return {
    shutdownSignal: AbortSignal.any(workers.map((w) => w.shutdownSignal)),
    async start() {
      for (const worker of workers) await worker.start();
    },
    async stop(drainMs) {
      // Every lane stops taking tasks at once; they drain the shared slots together.
      await Promise.all(workers.map((w) => w.stop(drainMs)));
    },
    isReady: () => workers.every((w) => w.isReady()),
  };
}
