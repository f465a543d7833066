import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startChild, type Child } from '../child';
import { SpillwayState, spillwayWorkerReady } from '../systems/spillway-state';
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
  /** The worker's rate, from the first task seen running to the last `succeeded`. */
  tasksPerSec: Summary;
  /** From the first submission to the last finished task: the worker's rate plus intake and start-up. */
  fromSubmissionPerSec: Summary;
  /** concurrency / task time: what a perfect consumer would reach. */
  limitPerSec: number;
}

/** Tasks of a run that have started (running or finished), and those that succeeded. */
interface Progress {
  started: number;
  succeeded: number;
}

interface Probe {
  read(): Promise<Progress>;
  close(): Promise<void>;
}

interface Plan {
  system: SystemName;
  concurrency: number;
  tasks: number;
  batch: number;
  probe(queue: string): Probe;
  ready(worker: Child): Promise<void>;
}

/**
 * Scenario 3: `sleep` tasks on one partition, submitted with the worker already in its group.
 * The worker's rate is timed from the first task seen running to the last `succeeded`:
 * concurrency / task time bounds the worker alone, while the first wave also waits for a fresh
 * API process to take the tasks in. The rate from the first submission is kept beside it. The
 * progress is polled from the first submission on. A fresh queue for every run.
 */
export async function slowScenario(options: BenchOptions): Promise<SlowRow[]> {
  const plans: Plan[] = [
    {
      system: 'spillway',
      concurrency: options.slowConcurrency,
      tasks: options.slowTasks,
      batch: 1000,
      // Straight from Redis, as BullMQ's: through the API, a poll would wait behind the batches
      // it is taking in, and see the first task start late.
      probe: (queue) => {
        const state = new SpillwayState(queue);
        return {
          async read() {
            const { running = 0, succeeded = 0 } = await state.counts();
            return { started: running + succeeded, succeeded };
          },
          close: async () => state.close(),
        };
      },
      ready: spillwayWorkerReady,
    },
    {
      system: 'bullmq',
      concurrency: options.slowConcurrency,
      tasks: options.slowTasks,
      batch: 1000,
      probe: (queue) => {
        const q = new Queue(queue, { connection: { url: REDIS_URL } });
        return {
          async read() {
            const { active = 0, completed = 0 } = await q.getJobCounts('active', 'completed');
            return { started: active + completed, succeeded: completed };
          },
          close: () => q.close(),
        };
      },
      ready: async () => undefined,
    },
    {
      system: 'naive',
      concurrency: 1,
      tasks: options.slowTasksSequential,
      batch: 1,
      probe: (queue) => {
        const client = new Redis(REDIS_URL);
        return {
          async read() {
            const keys = await scanAll(client, naiveNames(queue).statusKey('*'));
            const values = keys.length > 0 ? await client.mget(keys) : [];
            const succeeded = values.filter((v) => v?.includes('"succeeded"')).length;
            const running = values.filter((v) => v?.includes('"running"')).length;
            return { started: running + succeeded, succeeded };
          },
          close: async () => void client.disconnect(),
        };
      },
      ready: async () => undefined,
    },
  ];
  const rows: SlowRow[] = [];
  for (const plan of plans) {
    const runs: RunRates[] = [];
    for (let i = 0; i < options.repeats; i++) {
      runs.push(await oneRun(plan, options.slowTaskMs));
    }
    const rates = runs.map((r) => r.worker);
    rows.push({
      system: plan.system,
      tasks: plan.tasks,
      concurrency: plan.concurrency,
      tasksPerSec: summarize(rates),
      fromSubmissionPerSec: summarize(runs.map((r) => r.fromSubmission)),
      limitPerSec: (plan.concurrency * 1000) / options.slowTaskMs,
    });
    console.log(
      `slow ${plan.system} c=${plan.concurrency}: ${rates.map((r) => r.toFixed(1)).join(', ')} tasks/s`,
    );
  }
  return rows;
}

interface RunRates {
  worker: number;
  fromSubmission: number;
}

async function oneRun(plan: Plan, taskMs: number): Promise<RunRates> {
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
    const probe = plan.probe(queue);
    try {
      const started = performance.now();
      const submitting = submitTasks(
        api.url,
        { type: 'sleep', payload: { ms: taskMs } },
        plan.tasks,
        plan.batch,
      );
      let firstStart: number | undefined;
      let abandoned = false;
      const polling = waitFor(
        async () => {
          if (abandoned) return -1; // the run failed: any value ends waitFor, and none is read
          const progress = await probe.read();
          const at = performance.now();
          if (progress.started > 0) firstStart ??= at;
          return progress.succeeded >= plan.tasks ? at : undefined;
        },
        (plan.tasks * taskMs) / plan.concurrency + 120_000,
        `${plan.system} drain`,
      );
      // A submission that fails ends the run at once rather than at the poll's deadline.
      const last = await Promise.race([polling, submitting.then(() => polling)]).finally(() => {
        abandoned = true;
      });
      return {
        // When the first poll that saw a start saw the last finish too (a run shorter than a
        // poll on a busy machine), the worker's own window is unknown: counted from submission.
        worker:
          plan.tasks /
          ((last - (firstStart !== undefined && firstStart < last ? firstStart : started)) / 1000),
        fromSubmission: plan.tasks / ((last - started) / 1000),
      };
    } finally {
      await probe.close();
    }
  } finally {
    await worker.stop();
    await api.stop();
    await dropQueues([{ system: plan.system, queue }]);
  }
}

/** Every key matching `pattern`, with SCAN (the naive design keeps no index of its tasks). */
async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for await (const keys of redis.scanStream({ match: pattern, count: 1000 }) as AsyncIterable<string[]>) {
    found.push(...keys);
  }
  return found;
}
