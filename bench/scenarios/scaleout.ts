import { startChild, type Child } from '../child';
import { dropQueues } from '../cleanup';
import type { BenchOptions } from '../options';
import { SpillwayState, spillwayWorkerReady } from '../systems/spillway-state';
import { benchKafka, benchQueue, waitFor } from '../stack';
import { summarize, type Summary } from '../stats';
import { submitTasks } from './submit';

export interface ScaleRow {
  workers: number;
  partitions: number;
  /** Tasks one worker process runs at once. */
  concurrency: number;
  tasks: number;
  taskMs: number;
  tasksPerSec: Summary;
  /** Median rate divided by the one-worker median. */
  speedup: number;
  /** workers × concurrency / task time: what perfect workers would reach. */
  limitPerSec: number;
}

/**
 * Scenario 6: scale-out, what KEDA does in a cluster. I/O-bound `sleep` tasks on a topic with
 * more partitions than workers; worker processes are added one step at a time (1, 2, 4) to the
 * same group, as new replicas join, and every step drains the same number of tasks once the
 * group is stable, timed from the first submission to the last `succeeded`.
 */
export async function scaleOutScenario(options: BenchOptions): Promise<ScaleRow[]> {
  const queue = benchQueue('spillway');
  const state = new SpillwayState(queue);
  const shape = { partitions: options.scalePartitions, concurrency: options.scaleConcurrency };
  const admin = benchKafka().admin();
  // The API starts alongside the first worker; both create the topics if missing.
  const starting = startChild('spillway', 'api', queue, shape);
  starting.catch(() => undefined);
  const workers: Child[] = [];
  const rows: ScaleRow[] = [];
  try {
    await admin.connect();
    for (const count of options.scaleWorkers) {
      // New replicas start together, as a scale-up adds them.
      const started = await Promise.allSettled(
        Array.from({ length: count - workers.length }, () => startChild('spillway', 'worker', queue, shape)),
      );
      for (const s of started) if (s.status === 'fulfilled') workers.push(s.value);
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      await Promise.all(workers.map(spillwayWorkerReady));
      await waitFor(
        async () => {
          const [group] = (await admin.describeGroups([state.workerGroup])).groups;
          return group?.state === 'Stable' && group.members.length === count ? true : undefined;
        },
        60_000,
        `a stable group of ${count} workers`,
      );
      const api = await starting;
      const rates: number[] = [];
      for (let i = 0; i < options.repeats; i++) rates.push(await oneRun(api, state, options));
      const tasksPerSec = summarize(rates);
      rows.push({
        workers: count,
        partitions: options.scalePartitions,
        concurrency: options.scaleConcurrency,
        tasks: options.scaleTasks,
        taskMs: options.scaleTaskMs,
        tasksPerSec,
        speedup: tasksPerSec.median / (rows[0]?.tasksPerSec.median ?? tasksPerSec.median),
        limitPerSec: (count * options.scaleConcurrency * 1000) / options.scaleTaskMs,
      });
      console.log(`scale-out ${count} worker(s): ${rates.map((r) => r.toFixed(0)).join(', ')} tasks/s`);
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
    state.close();
    await Promise.all([
      ...workers.map((w) => w.stop()),
      starting.then(
        (api) => api.stop(),
        () => 0,
      ),
    ]);
    await dropQueues([{ system: 'spillway', queue }]);
  }
  return rows;
}

async function oneRun(api: Child, state: SpillwayState, options: BenchOptions): Promise<number> {
  const succeeded = async () => (await state.counts()).succeeded ?? 0;
  const before = await succeeded();
  const started = performance.now();
  await submitTasks(
    api.url,
    { type: 'sleep', payload: { ms: options.scaleTaskMs } },
    options.scaleTasks,
    1000,
  );
  const bound = (options.scaleTasks * options.scaleTaskMs) / options.scaleConcurrency + 120_000;
  await waitFor(
    async () => ((await succeeded()) - before >= options.scaleTasks ? true : undefined),
    bound,
    'scale-out drain',
  );
  return options.scaleTasks / ((performance.now() - started) / 1000);
}
