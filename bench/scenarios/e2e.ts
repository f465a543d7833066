import http from 'node:http';
import { QueueKeys } from 'bullmq';
import { Redis } from 'ioredis';
import { startApiAndWorker, type Child } from '../child';
import { dropQueues } from '../cleanup';
import { naiveNames } from '../naive/names';
import type { BenchOptions } from '../options';
import { SpillwayState, spillwayWorkerReady } from '../systems/spillway-state';
import { benchQueue, REDIS_URL, sleep } from '../stack';
import { percentile, summarize, type Summary } from '../stats';
import { single } from './enqueue';

export type E2eSystem = 'spillway' | 'bullmq' | 'naive';
export const E2E_SYSTEMS: readonly E2eSystem[] = ['spillway', 'bullmq', 'naive'];

export interface E2eRow {
  system: E2eSystem;
  /** The system's best single-endpoint enqueue rate, of which this run submits half. */
  maxPerSec: number;
  ratePerSec: number;
  workerConcurrency: number;
  /** Tasks counted per run (after the warm-up). */
  tasks: number;
  p50Ms: Summary;
  p99Ms: Summary;
  maxMs: Summary;
  /** Submissions answered with anything but 202, over all runs. */
  failures: number;
}

/** When each task finished (epoch ms), undefined while it has not. */
type FinishTimes = (queue: string, ids: string[]) => Promise<(number | undefined)[]>;

interface Plan {
  system: E2eSystem;
  concurrency: number;
  ready(worker: Child): Promise<void>;
  finishTimes: FinishTimes;
}

const CHUNK = 1000;

/** One command per id, sent in pipelines of CHUNK, each reply parsed. */
export async function pipelined<T>(
  redis: Redis,
  ids: string[],
  add: (p: ReturnType<Redis['pipeline']>, id: string) => void,
  parse: (value: unknown) => T,
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const pipeline = redis.pipeline();
    for (const id of ids.slice(i, i + CHUNK)) add(pipeline, id);
    for (const [err, value] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      out.push(parse(value));
    }
  }
  return out;
}

const bullKeys = new QueueKeys();

const plansWith = (redis: Redis): Plan[] => [
  {
    system: 'spillway',
    concurrency: 16,
    ready: spillwayWorkerReady,
    // The worker stamps finishedAt on the record with the `succeeded` transition.
    finishTimes: async (queue, ids) => {
      const state = new SpillwayState(queue);
      try {
        return (await state.records(ids, ['status', 'finishedAt'])).map(([status, at]) =>
          status === 'succeeded' && at ? Number(at) : undefined,
        );
      } finally {
        state.close();
      }
    },
  },
  {
    system: 'bullmq',
    concurrency: 16,
    ready: async () => undefined,
    // BullMQ's job hash: finishedOn is set when the job completes.
    finishTimes: (queue, ids) =>
      pipelined(
        redis,
        ids,
        (p, id) => p.hget(bullKeys.toKey(queue, id), 'finishedOn'),
        (v) => (typeof v === 'string' ? Number(v) : undefined),
      ),
  },
  {
    system: 'naive',
    concurrency: 1,
    ready: async () => undefined,
    finishTimes: (queue, ids) =>
      pipelined(
        redis,
        ids,
        (p, id) => p.get(naiveNames(queue).statusKey(id)),
        (v): number | undefined =>
          typeof v === 'string' ? (JSON.parse(v) as { finishedAt?: number }).finishedAt : undefined,
      ),
  },
];

/**
 * Scenario 4: end-to-end latency. `echo` tasks submitted one per request at a fixed rate, half of
 * the system's best enqueue rate, with one worker process running; per task, from the start of
 * its submit request to the moment the worker recorded it finished.
 */
export async function e2eScenario(
  options: BenchOptions,
  maxRates: Record<E2eSystem, number>,
): Promise<E2eRow[]> {
  const rows: E2eRow[] = [];
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  const stopping: Promise<unknown>[] = [];
  const used: { system: E2eSystem; queue: string }[] = [];
  try {
    for (const plan of plansWith(redis)) {
      const ratePerSec = Math.max(1, Math.round(maxRates[plan.system] / 2));
      const runs: Run[] = [];
      for (let i = 0; i < options.repeats; i++)
        runs.push(await oneRun(plan, ratePerSec, options, stopping, used));
      rows.push({
        system: plan.system,
        maxPerSec: maxRates[plan.system],
        ratePerSec,
        workerConcurrency: plan.concurrency,
        tasks: Math.round(ratePerSec * options.e2eSeconds),
        p50Ms: summarize(runs.map((r) => r.p50)),
        p99Ms: summarize(runs.map((r) => r.p99)),
        maxMs: summarize(runs.map((r) => r.max)),
        failures: runs.reduce((sum, r) => sum + r.failures, 0),
      });
      console.log(
        `e2e ${plan.system} at ${ratePerSec}/s: p50 ${runs.map((r) => r.p50).join(', ')} ms, ` +
          `p99 ${runs.map((r) => r.p99).join(', ')} ms`,
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
  p50: number;
  p99: number;
  max: number;
  failures: number;
}

/**
 * One run on a fresh queue. The processes are stopped in the background (`stopping`): an idle
 * Spillway worker takes a fetch long-poll (seconds) to leave its group, and nothing measured
 * depends on it.
 */
async function oneRun(
  plan: Plan,
  ratePerSec: number,
  options: BenchOptions,
  stopping: Promise<unknown>[],
  used: { system: E2eSystem; queue: string }[],
): Promise<Run> {
  const queue = benchQueue(plan.system);
  used.push({ system: plan.system, queue });
  const { api, worker } = await startApiAndWorker(plan.system, queue, { concurrency: plan.concurrency });
  try {
    await plan.ready(worker);
    const { submitted, failures } = await submitAtRate(api.url, ratePerSec, options);
    const latencies = await waitForFinish(plan, queue, submitted);
    latencies.sort((a, b) => a - b);
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1]!,
      failures,
    };
  } finally {
    stopping.push(worker.stop(), api.stop());
  }
}

interface Submitted {
  id: string;
  /** Epoch ms when the submit request started. */
  startedAt: number;
}

/**
 * An open-loop client: request i starts at i / rate seconds whatever the answers before it, so a
 * slow answer delays no later submission (and shows in the latency instead of hiding in the rate).
 */
async function submitAtRate(
  url: string,
  ratePerSec: number,
  options: BenchOptions,
): Promise<{ submitted: Submitted[]; failures: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const warmup = Math.round(ratePerSec * options.e2eWarmupSeconds);
  const total = warmup + Math.round(ratePerSec * options.e2eSeconds);
  const submitted: Submitted[] = [];
  let failures = 0;
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  let sent = 0;
  try {
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * ratePerSec) + 1);
      while (sent < due) {
        const counted = sent++ >= warmup;
        const startedAt = Date.now();
        pending.push(
          postTask(url, agent).then((id) => {
            if (!id) failures++;
            else if (counted) submitted.push({ id, startedAt });
          }),
        );
      }
      await sleep(1);
    }
    await Promise.all(pending);
  } finally {
    agent.destroy();
  }
  return { submitted, failures };
}

/**
 * POST /v1/tasks, the enqueue scenario's body unless given, with `headers` besides (a tenant's
 * key); resolves with the id, or undefined if not accepted.
 */
export function postTask(
  url: string,
  agent: http.Agent,
  body = single,
  headers: Record<string, string> = {},
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.request(
      `${url}/v1/tasks`,
      {
        method: 'POST',
        agent,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        timeout: 30_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          if (res.statusCode !== 202) return resolve(undefined);
          try {
            resolve((JSON.parse(body) as { id?: string }).id);
          } catch {
            resolve(undefined);
          }
        });
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
    req.end(body);
  });
}

/** Latency (ms) of every submitted task, once all have finished; bounded so a stuck worker fails the run. */
async function waitForFinish(plan: Plan, queue: string, submitted: Submitted[]): Promise<number[]> {
  if (submitted.length === 0) throw new Error(`${plan.system}: no submission was accepted`);
  const latencies: number[] = [];
  let open = submitted;
  const deadline = Date.now() + Math.max(120_000, submitted.length * 5);
  while (open.length > 0) {
    const times = await plan.finishTimes(
      queue,
      open.map((s) => s.id),
    );
    const still: Submitted[] = [];
    open.forEach((s, i) => {
      const at = times[i];
      if (at === undefined) still.push(s);
      else latencies.push(at - s.startedAt);
    });
    open = still;
    if (open.length === 0) break;
    if (Date.now() > deadline) {
      throw new Error(`${plan.system}: ${open.length} of ${submitted.length} tasks never finished`);
    }
    await sleep(200);
  }
  return latencies;
}
