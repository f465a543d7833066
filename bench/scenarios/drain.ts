import { Queue } from 'bullmq';
import { startChild, type Child } from '../child';
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
}

const CONCURRENCY = 16;

const counters: Partial<Record<SystemName, (api: Child, queue: string) => Promise<number>>> = {
  spillway: async (api) =>
    ((await (await fetch(`${api.url}/v1/stats`)).json()) as { counts: { succeeded: number } }).counts
      .succeeded,
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
    const rates: number[] = [];
    for (let i = 0; i < options.repeats; i++) rates.push(await oneDrain(system, options.drainTasks));
    rows.push({ system, tasks: options.drainTasks, concurrency: CONCURRENCY, tasksPerSec: summarize(rates) });
    console.log(`drain ${system}: ${rates.map((r) => r.toFixed(0)).join(', ')} tasks/s`);
  }
  return rows;
}

async function oneDrain(system: SystemName, tasks: number): Promise<number> {
  const count = counters[system]!;
  const queue = benchQueue(system);
  const api = await startChild(system, 'api', queue);
  let worker: Child | undefined;
  try {
    await submitTasks(api.url, { type: 'echo', payload: { n: 1 } }, tasks, 1000);
    worker = await startChild(system, 'worker', queue, { concurrency: CONCURRENCY });
    const deadline = Date.now() + Math.max(120_000, tasks);
    let first: { at: number; done: number } | undefined;
    for (;;) {
      const done = await count(api, queue);
      const at = performance.now();
      if (!first && done > 0) first = { at, done };
      if (first && done >= tasks) {
        // Too quick to time (a smoke run): count it from the worker's start instead.
        return at > first.at ? (done - first.done) / ((at - first.at) / 1000) : done;
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
