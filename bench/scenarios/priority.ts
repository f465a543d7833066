import http from 'node:http';
import { QueueKeys } from 'bullmq';
import { Redis } from 'ioredis';
import { startChild, type Child } from '../child';
import { dropQueues } from '../cleanup';
import type { BenchOptions } from '../options';
import { SpillwayState, spillwayWorkerReady } from '../systems/spillway-state';
import { benchQueue, REDIS_URL, sleep } from '../stack';
import { percentile, summarize, type Summary } from '../stats';
import { pipelined, postTask } from './e2e';
import { submitTasks } from './submit';

export type PrioritySystem = 'spillway' | 'bullmq';

export interface PriorityRow {
  system: PrioritySystem;
  /** `low` tasks queued before the worker started, per run. */
  lowTasks: number;
  ratePerSec: number;
  /** `high` tasks accepted, and of those started, over all runs (a run fails if one never starts). */
  highAccepted: number;
  highStarted: number;
  /** From the start of a `high` task's submit request to its start. */
  p50Ms: Summary;
  p99Ms: Summary;
  maxMs: Summary;
  /** `low` tasks started during the window, and still waiting at its end: the backlog was there. */
  lowRun: Summary;
  lowLeft: Summary;
  /** `high` submissions answered with anything but 202, over all runs. */
  failures: number;
}

/** When each task started (epoch ms), undefined while it has not. */
type StartTimes = (queue: string, ids: string[]) => Promise<(number | undefined)[]>;

interface Plan {
  system: PrioritySystem;
  ready(worker: Child): Promise<void>;
  startTimes: StartTimes;
}

/** Spillway's default, as in drain and e2e. */
const CONCURRENCY = 16;
/** Batch requests in flight while the backlog is queued, 1,000 tasks each. */
const BACKLOG_CLIENTS = 4;
/** How long after the window a `high` task may still start before the run fails. */
const START_DEADLINE_MS = 60_000;

const HIGH = JSON.stringify({ type: 'echo', payload: { n: 1 }, priority: 'high' });
const bullKeys = new QueueKeys();

const plansWith = (redis: Redis): Plan[] => [
  {
    system: 'spillway',
    // Ready once every lane's consumer (and the scheduler) is in its group: high tasks are not
    // left waiting on a join.
    ready: spillwayWorkerReady,
    // The worker stamps startedAt on the record with the `running` transition, at the start.
    startTimes: async (queue, ids) => {
      const state = new SpillwayState(queue);
      try {
        return (await state.records(ids, ['startedAt'])).map(([at]) => (at ? Number(at) : undefined));
      } finally {
        state.close();
      }
    },
  },
  {
    system: 'bullmq',
    ready: async () => undefined,
    // BullMQ's job hash: processedOn is set when a worker moves the job to active.
    startTimes: (queue, ids) =>
      pipelined(
        redis,
        ids,
        (p, id) => p.hget(bullKeys.toKey(queue, id), 'processedOn'),
        (v) => (typeof v === 'string' ? Number(v) : undefined),
      ),
  },
];

/**
 * Scenario 8: priorities. A backlog of `low` `sleep` tasks queued with no worker running, then one
 * worker (concurrency 16) and, once it is ready, `high` `echo` tasks one per request at a fixed
 * rate; per `high` task, from the start of its submit request to its start. The goal:
 * under 1 s at p99 behind 100,000 `low` tasks. BullMQ gets the same through its job priorities.
 */
export async function priorityScenario(options: BenchOptions): Promise<PriorityRow[]> {
  const rows: PriorityRow[] = [];
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  const stopping: Promise<unknown>[] = [];
  const used: { system: PrioritySystem; queue: string }[] = [];
  try {
    for (const plan of plansWith(redis)) {
      const runs: Run[] = [];
      for (let i = 0; i < options.repeats; i++) runs.push(await oneRun(plan, options, stopping, used));
      const sum = (f: (r: Run) => number) => runs.reduce((total, r) => total + f(r), 0);
      rows.push({
        system: plan.system,
        lowTasks: options.priorityLowTasks,
        ratePerSec: options.priorityRatePerSec,
        highAccepted: sum((r) => r.accepted),
        highStarted: sum((r) => r.started),
        p50Ms: summarize(runs.map((r) => r.p50)),
        p99Ms: summarize(runs.map((r) => r.p99)),
        maxMs: summarize(runs.map((r) => r.max)),
        lowRun: summarize(runs.map((r) => r.lowRun)),
        lowLeft: summarize(runs.map((r) => r.lowLeft)),
        failures: sum((r) => r.failures),
      });
      console.log(
        `priority ${plan.system}: high p50 ${runs.map((r) => r.p50).join(', ')} ms, ` +
          `p99 ${runs.map((r) => r.p99).join(', ')} ms; low left ${runs.map((r) => r.lowLeft).join(', ')}`,
      );
    }
  } finally {
    redis.disconnect();
    await Promise.all(stopping);
    await dropQueues(used);
  }
  return rows;
}

interface Run {
  accepted: number;
  started: number;
  p50: number;
  p99: number;
  max: number;
  lowRun: number;
  lowLeft: number;
  failures: number;
}

/**
 * One run on a fresh queue. The backlog is read from the `low` tasks' own start times afterwards,
 * not sampled live: the same reading for both systems, exact at the window's end.
 */
async function oneRun(
  plan: Plan,
  options: BenchOptions,
  stopping: Promise<unknown>[],
  used: { system: PrioritySystem; queue: string }[],
): Promise<Run> {
  const queue = benchQueue(plan.system);
  used.push({ system: plan.system, queue });
  const api = await startChild(plan.system, 'api', queue);
  let worker: Child | undefined;
  try {
    const low = { type: 'sleep', payload: { ms: options.priorityLowTaskMs }, priority: 'low' };
    const lowIds = await submitTasks(api.url, low, options.priorityLowTasks, 1000, BACKLOG_CLIENTS);
    worker = await startChild(plan.system, 'worker', queue, { concurrency: CONCURRENCY });
    await plan.ready(worker);
    const window = await submitHigh(api.url, options);
    const latencies = await waitForStart(plan, queue, window.submitted);
    latencies.sort((a, b) => a - b);
    const lowStarts = await plan.startTimes(queue, lowIds);
    const inWindow = (at: number | undefined) => at !== undefined && at >= window.from && at <= window.to;
    return {
      accepted: window.submitted.length,
      started: latencies.length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1]!,
      lowRun: lowStarts.filter(inWindow).length,
      lowLeft: lowStarts.filter((at) => at === undefined || at > window.to).length,
      failures: window.failures,
    };
  } finally {
    // In the background, as e2e does: a worker still busy with the backlog takes a while to stop.
    stopping.push(api.stop());
    if (worker) stopping.push(worker.stop());
  }
}

interface Submitted {
  id: string;
  /** Epoch ms when the submit request started. */
  startedAt: number;
}

/**
 * `high` tasks open-loop, as e2e submits (request i at i / rate seconds whatever the answers);
 * the window runs from the first request to the last one sent.
 */
async function submitHigh(
  url: string,
  options: BenchOptions,
): Promise<{ submitted: Submitted[]; failures: number; from: number; to: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const rate = options.priorityRatePerSec;
  const total = Math.round(rate * options.prioritySeconds);
  const submitted: Submitted[] = [];
  let failures = 0;
  const pending: Promise<void>[] = [];
  const from = Date.now();
  const t0 = performance.now();
  let sent = 0;
  try {
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      for (; sent < due; sent++) {
        const startedAt = Date.now();
        pending.push(
          postTask(url, agent, HIGH).then((id) => {
            if (id) submitted.push({ id, startedAt });
            else failures++;
          }),
        );
      }
      await sleep(1);
    }
    const to = Date.now();
    await Promise.all(pending);
    return { submitted, failures, from, to };
  } finally {
    agent.destroy();
  }
}

/** Start latency (ms) of every submitted task, once all have started; bounded so a stuck lane fails the run. */
async function waitForStart(plan: Plan, queue: string, submitted: Submitted[]): Promise<number[]> {
  if (submitted.length === 0) throw new Error(`${plan.system}: no high submission was accepted`);
  const latencies: number[] = [];
  let open = submitted;
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    const times = await plan.startTimes(
      queue,
      open.map((s) => s.id),
    );
    open = open.filter((s, i) => {
      const at = times[i];
      if (at !== undefined) latencies.push(at - s.startedAt);
      return at === undefined;
    });
    if (open.length === 0) return latencies;
    if (Date.now() > deadline) {
      throw new Error(`${plan.system}: ${open.length} of ${submitted.length} high tasks never started`);
    }
    await sleep(200);
  }
}
