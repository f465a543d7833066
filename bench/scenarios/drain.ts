import { Queue } from 'bullmq';
import { startChild, type Child } from '../child';
import { CpuMeter, medianCpu, stackPids, type CpuPerTask } from '../cpu-time';
import type { BenchOptions } from '../options';
import type { SystemName } from '../serve';
import { benchQueue, REDIS_URL, sleep } from '../stack';
import { summarize, type Summary } from '../stats';
import { submitTasks } from './submit';
import { dropQueues } from '../cleanup';

export interface DrainRow {
  system: SystemName;
  tasks: number;
  concurrency: number;
  tasksPerSec: Summary;
  /** µs of CPU per task of the worker, Redis and the Kafka broker while draining (medians). */
  cpuPerTask: CpuPerTask;
}

const CONCURRENCY = 16;

const spillwaySucceeded = async (api: Child) =>
  ((await (await fetch(`${api.url}/v1/stats`)).json()) as { counts: { succeeded: number } }).counts.succeeded;

const counters: Partial<Record<SystemName, (api: Child, queue: string) => Promise<number>>> = {
  spillway: spillwaySucceeded,
  'spillway-unindexed': spillwaySucceeded,
  bullmq: async (_api, queue) => {
    const q = new Queue(queue, { connection: { url: REDIS_URL } });
    try {
      return (await q.getJobCounts('completed')).completed ?? 0;
    } finally {
      await q.close();
    }
  },
};

/**
 * Scenario 2: `echo` tasks already queued, then one worker process (concurrency 16, Spillway's
 * default, for both). The rate is timed from the first finished task to the last, so process
 * start and consumer-group join do not count against the worker.
 */
export async function drainScenario(options: BenchOptions): Promise<DrainRow[]> {
  const rows: DrainRow[] = [];
  for (const system of ['spillway', 'bullmq'] as const) {
    const runs: { rate: number; cpu: CpuPerTask }[] = [];
    for (let i = 0; i < options.repeats; i++) runs.push(await oneDrain(system, options.drainTasks));
    const rates = runs.map((r) => r.rate);
    rows.push({
      system,
      tasks: options.drainTasks,
      concurrency: CONCURRENCY,
      tasksPerSec: summarize(rates),
      cpuPerTask: medianCpu(runs.map((r) => r.cpu)),
    });
    console.log(`drain ${system}: ${rates.map((r) => r.toFixed(0)).join(', ')} tasks/s`);
  }
  return rows;
}

/** One drain of `tasks` queued `echo` tasks on a fresh queue: its rate and CPU per task. */
export async function oneDrain(
  system: SystemName,
  tasks: number,
): Promise<{ rate: number; cpu: CpuPerTask }> {
  const count = counters[system]!;
  const queue = benchQueue(system);
  const api = await startChild(system, 'api', queue);
  let worker: Child | undefined;
  try {
    await submitTasks(api.url, { type: 'echo', payload: { n: 1 } }, tasks, 1000);
    worker = await startChild(system, 'worker', queue, { concurrency: CONCURRENCY });
    const deadline = Date.now() + Math.max(120_000, tasks);
    const pids = { worker: worker.pid, ...(await stackPids()) };
    const fromStart = new CpuMeter(pids);
    let first: { at: number; done: number; cpu: CpuMeter } | undefined;
    for (;;) {
      const done = await count(api, queue);
      const at = performance.now();
      if (!first && done > 0) first = { at, done, cpu: new CpuMeter(pids) };
      if (first && done >= tasks) {
        // Too quick to time (a smoke run): count it from the worker's start instead.
        const rate = at > first.at ? (done - first.done) / ((at - first.at) / 1000) : done;
        // The CPU too, when the timed part is too short to read at 10 ms a tick (the worker's
        // start-up then counts too: a smoke run's figure).
        const timed = at - first.at >= 1000;
        return { rate, cpu: timed ? first.cpu.perTask(done - first.done) : fromStart.perTask(done) };
      }
      if (Date.now() > deadline) throw new Error(`${system} drained ${done} of ${tasks} in time`);
      await sleep(100);
    }
  } finally {
    await worker?.stop();
    await api.stop();
    await dropQueues([{ system, queue }]);
  }
}
