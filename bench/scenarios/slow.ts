import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startChild, type Child } from '../child';
import { naiveNames } from '../naive/names';
import type { BenchOptions } from '../options';
import type { SystemName } from '../serve';
import { benchQueue, REDIS_URL, waitFor } from '../stack';
import { summarize, type Summary } from '../stats';
import { submitTasks } from './submit';
import { dropQueues } from '../cleanup';

export interface SlowRow {
  system: SystemName;
  tasks: number;
  concurrency: number;
  tasksPerSec: Summary;
  /** concurrency / task time: what a perfect consumer would reach. */
  limitPerSec: number;
}

interface Plan {
  system: SystemName;
  concurrency: number;
  tasks: number;
  batch: number;
  /** How many of the run's tasks have succeeded. */
  succeeded(run: { api: Child; queue: string; ids: string[] }): Promise<number>;
  ready(worker: Child): Promise<void>;
}

const redis = () => new Redis(REDIS_URL, { lazyConnect: true });

/**
 * Scenario 3: `sleep` tasks on one partition, timed from the first submission to the last
 * `succeeded`, with the worker already in its group. A fresh queue for every run.
 */
export async function slowScenario(options: BenchOptions): Promise<SlowRow[]> {
  const client = redis();
  const plans: Plan[] = [
    {
      system: 'spillway',
      concurrency: options.slowConcurrency,
      tasks: options.slowTasks,
      batch: 1000,
      succeeded: async ({ api }) => {
        const stats = (await (await fetch(`${api.url}/v1/stats`)).json()) as {
          counts: { succeeded: number };
        };
        return stats.counts.succeeded;
      },
      ready: (worker) =>
        waitFor(
          async () => ((await fetch(`${worker.url}/readyz`)).ok ? true : undefined),
          60_000,
          'worker ready',
        ).then(() => undefined),
    },
    {
      system: 'bullmq',
      concurrency: options.slowConcurrency,
      tasks: options.slowTasks,
      batch: 1000,
      succeeded: async ({ queue }) => {
        const q = new Queue(queue, { connection: { url: REDIS_URL } });
        try {
          return (await q.getJobCounts('completed')).completed ?? 0;
        } finally {
          await q.close();
        }
      },
      ready: async () => undefined,
    },
    {
      system: 'naive',
      concurrency: 1,
      tasks: options.slowTasksSequential,
      batch: 1,
      succeeded: async ({ queue, ids }) => {
        const values = await client.mget(ids.map((id) => naiveNames(queue).statusKey(id)));
        return values.filter((v) => v?.includes('"succeeded"')).length;
      },
      ready: async () => undefined,
    },
  ];
  const rows: SlowRow[] = [];
  try {
    for (const plan of plans) {
      const rates: number[] = [];
      for (let i = 0; i < options.repeats; i++) {
        rates.push(await oneRun(plan, options.slowTaskMs));
      }
      rows.push({
        system: plan.system,
        tasks: plan.tasks,
        concurrency: plan.concurrency,
        tasksPerSec: summarize(rates),
        limitPerSec: (plan.concurrency * 1000) / options.slowTaskMs,
      });
      console.log(
        `slow ${plan.system} c=${plan.concurrency}: ${rates.map((r) => r.toFixed(1)).join(', ')} tasks/s`,
      );
    }
  } finally {
    client.disconnect();
  }
  return rows;
}

async function oneRun(plan: Plan, taskMs: number): Promise<number> {
  const queue = benchQueue(plan.system);
  const shape = { partitions: 1, concurrency: plan.concurrency };
  // The API first: it creates the single-partition topic the worker subscribes to.
  const api = await startChild(plan.system, 'api', queue, shape);
  const worker = await startChild(plan.system, 'worker', queue, shape).catch(async (err: unknown) => {
    await api.stop();
    throw err;
  });
  try {
    await plan.ready(worker);
    const started = performance.now();
    const ids = await submitTasks(
      api.url,
      { type: 'sleep', payload: { ms: taskMs } },
      plan.tasks,
      plan.batch,
    );
    const bound = (plan.tasks * taskMs) / plan.concurrency + 120_000;
    await waitFor(
      async () => ((await plan.succeeded({ api, queue, ids })) >= plan.tasks ? true : undefined),
      bound,
      `${plan.system} drain`,
    );
    return plan.tasks / ((performance.now() - started) / 1000);
  } finally {
    await worker.stop();
    await api.stop();
    await dropQueues([{ system: plan.system, queue }]);
  }
}
