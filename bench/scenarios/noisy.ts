import http from 'node:http';
import { QueueKeys } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisKeys } from '../../services/shared/redis/keys';
import { startApiAndWorker, type Child } from '../child';
import { dropQueues } from '../cleanup';
import type { BenchOptions } from '../options';
import { SpillwayState, spillwayWorkerReady } from '../systems/spillway-state';
import { NOISY_SPILL, tenantHeaders, type SpillAllowance } from '../systems/types';
import { benchQueue, REDIS_URL, sleep } from '../stack';
import { percentile, summarize, type Summary } from '../stats';
import { pipelined, postTask } from './e2e';
import { submitTasks } from './submit';

/** Spillway with tenants `a` and `b` (its own keys file), and BullMQ with one queue for both. */
export type NoisySystem = 'spillway-fair' | 'bullmq';

/** B's start latency against its submission time, for the plot. */
export interface NoisyTimeline {
  /** Per B task of the together phase: ms since B's stream started, and its start latency (ms). */
  points: { atMs: number; latencyMs: number }[];
  /** When A's first batch request started and its last task finished, ms since B's stream started. */
  burstFromMs: number;
  burstToMs: number;
  /** B's p99 alone in the same run (ms), the plot's reference line. */
  aloneP99Ms: number;
}

export interface NoisyRow {
  system: NoisySystem;
  /** Spillway's spill allowance for each tenant in this run; undefined: none (and always on BullMQ). */
  spill?: SpillAllowance;
  ratePerSec: number;
  taskMs: number;
  burstTasks: number;
  /** B alone: tasks accepted and started over all runs, and its start latency. */
  aloneAccepted: number;
  aloneStarted: number;
  aloneP50Ms: Summary;
  aloneP99Ms: Summary;
  /** B during the burst: all its tasks of the together phase accepted and started, over all runs… */
  burstAccepted: number;
  burstStarted: number;
  /** …and of those, the ones submitted between A's first submission and A's last finish (per run). */
  inBurst: Summary;
  burstP50Ms: Summary;
  burstP99Ms: Summary;
  burstMaxMs: Summary;
  /** Per run, B's p99 during the burst over its p99 alone (goal ≤ 2, and the p99 under 1 s). */
  p99Ratio: Summary;
  /** Of B's time to start, the p99 of its submit request alone (until the 202), alone and during the burst. */
  aloneAnswerP99Ms: Summary;
  burstAnswerP99Ms: Summary;
  /** A's tasks per second from its first submission to its last finish, alone and beside B. */
  aloneDrainPerSec: Summary;
  withBDrainPerSec: Summary;
  /** Per run, A's drain with B over alone (goal ≥ 0.9). */
  drainRatio: Summary;
  /** A's tasks accepted and finished in the together phase, over all runs. */
  aAccepted: number;
  aFinished: number;
  /** B's submissions answered with anything but 202, over all runs. */
  failures: number;
  /** A's batch requests answered 503 or 409 and retried (then accepted), over all runs. */
  aRetried: number;
  /** The run with the median p99 during the burst. */
  timeline: NoisyTimeline;
}

/** The goals: B's p99 during the burst at most this many times its p99 alone, and under GOAL_MS. */
export const NOISY_P99_RATIO_GOAL = 2;
export const NOISY_P99_GOAL_MS = 1000;
/** A's burst drains with B beside it at least at this share of its rate alone. */
export const NOISY_DRAIN_RATIO_GOAL = 0.9;

/** Spillway's default, as in drain, e2e and priority. */
const CONCURRENCY = 16;
const BATCH = 1000;
/** B's stream runs this long before A's burst starts, and this long after it has drained. */
const LEAD_MS = 1000;
const TAIL_MS = 1000;
/** B's tasks submitted this long before are counted as finished when judging A drained (then the tail). */
const SETTLE_MS = 1000;
/** Warm-up of B's stream before the baseline, not counted. */
const WARMUP_SECONDS = 1;
/** How long after its stream a B task may still start, and a drained A task be read, before the run fails. */
const DEADLINE_MS = 60_000;

/** When each task started or finished (epoch ms), undefined while it has not. */
type Times = (ids: string[]) => Promise<(number | undefined)[]>;

/** What a run reads of one queue: straight from Redis, not through the API under load. */
interface Reader {
  startTimes: Times;
  finishTimes: Times;
  /** Tasks finished in the queue so far, whoever's. */
  finished(): Promise<number>;
  close(): void;
}

interface Plan {
  system: NoisySystem;
  ready(worker: Child): Promise<void>;
  reader(queue: string, redis: Redis): Reader;
  /** A's and B's task bodies: BullMQ has no tenants, so there the tenant is a payload tag. */
  taskA: { type: string; payload: unknown };
  taskB(ms: number): { type: string; payload: unknown };
}

const bullKeys = new QueueKeys();
const epochMs = (v: unknown) => (typeof v === 'string' ? Number(v) : undefined);

const PLANS: Plan[] = [
  {
    system: 'spillway-fair',
    ready: spillwayWorkerReady,
    reader: (queue, redis) => {
      const state = new SpillwayState(queue);
      const counts = new RedisKeys(queue).counts();
      return {
        // The worker stamps startedAt with the `running` transition, finishedAt with `succeeded`.
        startTimes: async (ids) => (await state.records(ids, ['startedAt'])).map(([at]) => epochMs(at)),
        finishTimes: async (ids) =>
          (await state.records(ids, ['status', 'finishedAt'])).map(([status, at]) =>
            status === 'succeeded' ? epochMs(at) : undefined,
          ),
        finished: async () => Number((await redis.hget(counts, 'succeeded')) ?? 0),
        close: () => state.close(),
      };
    },
    taskA: { type: 'echo', payload: { n: 1 } },
    taskB: (ms) => ({ type: 'sleep', payload: { ms } }),
  },
  {
    system: 'bullmq',
    ready: async () => undefined,
    reader: (queue, redis) => ({
      // BullMQ's job hash: processedOn when a worker moves the job to active, finishedOn at completion.
      startTimes: (ids) =>
        pipelined(redis, ids, (p, id) => p.hget(bullKeys.toKey(queue, id), 'processedOn'), epochMs),
      finishTimes: (ids) =>
        pipelined(redis, ids, (p, id) => p.hget(bullKeys.toKey(queue, id), 'finishedOn'), epochMs),
      finished: () => redis.zcard(bullKeys.toKey(queue, 'completed')),
      close: () => undefined,
    }),
    taskA: { type: 'echo', payload: { n: 1, tenant: 'a' } },
    taskB: (ms) => ({ type: 'sleep', payload: { ms, tenant: 'b' } }),
  },
];

/**
 * Scenario 9: noisy neighbour. One API and one worker process (concurrency 16) per system and
 * run, three phases on the same queue: (a) tenant B alone, `sleep` tasks one per request at a
 * fixed rate, each task's time from the start of its submit request to its start; (b) tenant A
 * alone, a burst of `echo` tasks through the batch endpoint, drained at tasks per second from its
 * first submission to its last finish; (c) both: B's stream starts, A's burst a second later,
 * and B's stream runs until a second after the burst has drained. The issue's goals: B's p99 in
 * (c) at most twice its p99 in (a) and under 1 s; A's drain in (c) at least 90% of (b)'s.
 * Spillway's tenants are two keys of a keys file; BullMQ gets one queue, the issue's baseline.
 */
export async function noisyScenario(options: BenchOptions): Promise<NoisyRow[]> {
  const rows: NoisyRow[] = [];
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  const stopping: Promise<unknown>[] = [];
  const used: { system: NoisySystem; queue: string }[] = [];
  try {
    for (const plan of PLANS) {
      const runs: Run[] = [];
      for (let i = 0; i < options.repeats; i++) runs.push(await oneRun(plan, options, redis, stopping, used));
      const sum = (f: (r: Run) => number) => runs.reduce((total, r) => total + f(r), 0);
      const of = (f: (r: Run) => number) => summarize(runs.map(f));
      const median = [...runs].sort((x, y) => x.burst.p99 - y.burst.p99)[Math.floor(runs.length / 2)]!;
      rows.push({
        system: plan.system,
        ...(plan.system === 'spillway-fair' && NOISY_SPILL ? { spill: NOISY_SPILL } : {}),
        ratePerSec: options.noisyRatePerSec,
        taskMs: options.noisyTaskMs,
        burstTasks: options.noisyBurstTasks,
        aloneAccepted: sum((r) => r.alone.accepted),
        aloneStarted: sum((r) => r.alone.started),
        aloneP50Ms: of((r) => r.alone.p50),
        aloneP99Ms: of((r) => r.alone.p99),
        burstAccepted: sum((r) => r.burst.accepted),
        burstStarted: sum((r) => r.burst.started),
        inBurst: of((r) => r.burst.inBurst),
        burstP50Ms: of((r) => r.burst.p50),
        burstP99Ms: of((r) => r.burst.p99),
        burstMaxMs: of((r) => r.burst.max),
        p99Ratio: of((r) => r.burst.p99 / r.alone.p99),
        aloneAnswerP99Ms: of((r) => r.aloneAnswerP99),
        burstAnswerP99Ms: of((r) => r.burstAnswerP99),
        aloneDrainPerSec: of((r) => r.aloneDrain),
        withBDrainPerSec: of((r) => r.withBDrain),
        drainRatio: of((r) => r.withBDrain / r.aloneDrain),
        aAccepted: sum((r) => r.aAccepted),
        aFinished: sum((r) => r.aFinished),
        failures: sum((r) => r.failures),
        aRetried: sum((r) => r.aRetried),
        timeline: median.timeline,
      });
      console.log(
        `noisy ${plan.system}${NOISY_SPILL && plan.system === 'spillway-fair' ? ' (spill on)' : ''}: ` +
          `B p99 alone ${runs.map((r) => r.alone.p99).join(', ')} ms, during burst ` +
          `${runs.map((r) => r.burst.p99).join(', ')} ms (submit answered p99 ` +
          `${runs.map((r) => r.burstAnswerP99).join(', ')} ms); A drain alone ` +
          `${runs.map((r) => r.aloneDrain.toFixed(0)).join(', ')}, with B ` +
          `${runs.map((r) => r.withBDrain.toFixed(0)).join(', ')} tasks/s`,
      );
    }
  } finally {
    redis.disconnect();
    await Promise.all(stopping);
    await dropQueues(used);
  }
  return rows;
}

interface Latencies {
  accepted: number;
  started: number;
  p50: number;
  p99: number;
  max: number;
}

interface Run {
  alone: Latencies;
  burst: Latencies & { inBurst: number };
  /** B's p99 from the start of a submit request to its answer (202), alone and during the burst. */
  aloneAnswerP99: number;
  burstAnswerP99: number;
  aloneDrain: number;
  withBDrain: number;
  aAccepted: number;
  aFinished: number;
  failures: number;
  aRetried: number;
  timeline: NoisyTimeline;
}

/** Pause between phases: long enough for a spill allowance's bucket to fill again. */
const gapMs = (plan: Plan) =>
  plan.system === 'spillway-fair' && NOISY_SPILL
    ? Math.ceil((NOISY_SPILL.burst / NOISY_SPILL.rate) * 1000) + 1000
    : 2000;

async function oneRun(
  plan: Plan,
  options: BenchOptions,
  redis: Redis,
  stopping: Promise<unknown>[],
  used: { system: NoisySystem; queue: string }[],
): Promise<Run> {
  const queue = benchQueue(plan.system);
  used.push({ system: plan.system, queue });
  // An API that refuses the keys file (a spill setting it does not know) does not start: this throws.
  const { api, worker } = await startApiAndWorker(plan.system, queue, { concurrency: CONCURRENCY });
  const reader = plan.reader(queue, redis);
  const rate = options.noisyRatePerSec;
  const b = (total: number) => steadyStream(api.url, plan, options, total);
  let stream: Stream | undefined;
  try {
    await plan.ready(worker);
    // Not counted: the first requests of fresh processes.
    const warm = await b(Math.round(rate * WARMUP_SECONDS)).done;
    await startLatencies(plan, reader, warm.submitted);

    // (a) B alone.
    const alone = await b(Math.round(rate * options.noisyBaselineSeconds)).done;
    const aloneLatencies = sorted(await startLatencies(plan, reader, alone.submitted));
    await sleep(gapMs(plan));

    // (b) A alone.
    const aloneBase = await reader.finished();
    const aAlone = await burst(api.url, plan, options);
    await waitForCount(plan, reader, aloneBase + aAlone.ids.length, 'A alone');
    const aloneDrain = await drainRate(plan, reader, aAlone);
    await sleep(gapMs(plan));

    // (c) Together: B's stream, then A's burst, B until a second after A has drained.
    const base = await reader.finished();
    stream = b(Infinity);
    await sleep(LEAD_MS);
    const aTogether = await burst(api.url, plan, options);
    await waitForDrainBeside(plan, reader, base, aTogether.ids.length, stream);
    await sleep(TAIL_MS);
    const together = await stream.stop();
    const withB = await startLatencies(plan, reader, together.submitted);
    const withBDrain = await drainRate(plan, reader, aTogether);
    const aLast = withBDrain.lastFinish;
    if (together.to < aLast) {
      throw new Error(`${plan.system}: B's stream stopped before A's burst had drained`);
    }
    const inWindow = (s: Submitted) => s.startedAt >= aTogether.from && s.startedAt <= aLast;
    const during = withB.filter((_, i) => inWindow(together.submitted[i]!));
    if (during.length === 0) throw new Error(`${plan.system}: no B task was submitted during A's burst`);
    const duringSorted = sorted(during);
    const answers = (of: Submitted[]) => sorted(of.map((s) => s.answeredAt - s.startedAt));
    return {
      alone: latencies(alone.submitted.length, aloneLatencies),
      aloneAnswerP99: percentile(answers(alone.submitted), 99),
      burst: {
        ...latencies(together.submitted.length, duringSorted),
        started: withB.length,
        inBurst: during.length,
      },
      burstAnswerP99: percentile(answers(together.submitted.filter(inWindow)), 99),
      aloneDrain: aloneDrain.perSec,
      withBDrain: withBDrain.perSec,
      aAccepted: aTogether.ids.length,
      aFinished: withBDrain.finished,
      failures: alone.failures + together.failures,
      aRetried: aAlone.retried + aTogether.retried,
      timeline: {
        points: together.submitted.map((s, i) => ({
          atMs: s.startedAt - together.from,
          latencyMs: withB[i]!,
        })),
        burstFromMs: aTogether.from - together.from,
        burstToMs: aLast - together.from,
        aloneP99Ms: percentile(aloneLatencies, 99),
      },
    };
  } finally {
    // Stopped already unless the run failed part-way: then it must not go on submitting.
    await stream?.stop().catch(() => undefined);
    reader.close();
    // In the background, as e2e and priority do: a Spillway worker takes a while to leave its group.
    stopping.push(worker.stop(), api.stop());
  }
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

function latencies(accepted: number, sortedMs: number[]): Latencies {
  return {
    accepted,
    started: sortedMs.length,
    p50: percentile(sortedMs, 50),
    p99: percentile(sortedMs, 99),
    max: sortedMs[sortedMs.length - 1]!,
  };
}

interface Submitted {
  id: string;
  /** Epoch ms when the submit request started, and when its answer came. */
  startedAt: number;
  answeredAt: number;
}

interface StreamResult {
  submitted: Submitted[];
  failures: number;
  /** Epoch ms of the first request and of the last one sent. */
  from: number;
  to: number;
}

interface Stream {
  /** Requests sent so far, and of those answered with anything but 202. */
  sent(): number;
  failed(): number;
  /** Sends no more, and resolves once every request sent has been answered. */
  stop(): Promise<StreamResult>;
  done: Promise<StreamResult>;
}

/**
 * Tenant B: `total` `sleep` tasks one per `POST /v1/tasks` (or until stopped), open-loop as e2e
 * submits (request i at i / rate seconds whatever the answers before it), with B's key.
 */
function steadyStream(url: string, plan: Plan, options: BenchOptions, total: number): Stream {
  const rate = options.noisyRatePerSec;
  const body = JSON.stringify(plan.taskB(options.noisyTaskMs));
  const headers = tenantHeaders(plan.system, 'b');
  let stopping = false;
  let sent = 0;
  let failures = 0;
  const done = (async (): Promise<StreamResult> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const submitted: Submitted[] = [];
    const pending: Promise<void>[] = [];
    const from = Date.now();
    const t0 = performance.now();
    let to = from;
    try {
      while (sent < total && !stopping) {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
        for (; sent < due; sent++) {
          const startedAt = Date.now();
          to = startedAt;
          pending.push(
            postTask(url, agent, body, headers).then((id) => {
              if (id) submitted.push({ id, startedAt, answeredAt: Date.now() });
              else failures++;
            }),
          );
        }
        await sleep(1);
      }
      await Promise.all(pending);
      // Answers arrive out of order; the plot and the window want submission order.
      submitted.sort((x, y) => x.startedAt - y.startedAt);
      return { submitted, failures, from, to };
    } finally {
      agent.destroy();
    }
  })();
  return {
    sent: () => sent,
    failed: () => failures,
    stop: () => {
      stopping = true;
      return done;
    },
    done,
  };
}

/** Tenant A's burst: every task through the batch endpoint, 1,000 per request, a few in flight. */
async function burst(
  url: string,
  plan: Plan,
  options: BenchOptions,
): Promise<{ ids: string[]; from: number; retried: number }> {
  const from = Date.now();
  const stats = { retried: {} as Record<number, number> };
  const ids = await submitTasks(
    url,
    plan.taskA,
    options.noisyBurstTasks,
    BATCH,
    options.noisyBurstClients,
    stats,
    tenantHeaders(plan.system, 'a'),
  );
  if (ids.length !== options.noisyBurstTasks) {
    throw new Error(`${plan.system}: ${ids.length} of ${options.noisyBurstTasks} of A's tasks accepted`);
  }
  // Answers retried (503, or 409 while a first try settles): refused first, then accepted.
  return { ids, from, retried: Object.values(stats.retried).reduce((a, n) => a + n, 0) };
}

/** Bounded by the tasks' count: a worker that stops draining fails the run. */
const drainDeadline = (tasks: number) => Date.now() + Math.max(120_000, tasks * 2);

async function waitForCount(plan: Plan, reader: Reader, count: number, what: string): Promise<void> {
  const deadline = drainDeadline(count);
  for (;;) {
    const done = await reader.finished();
    if (done >= count) return;
    if (Date.now() > deadline)
      throw new Error(`${plan.system}: ${what} finished ${done} of ${count} in time`);
    await sleep(100);
  }
}

/**
 * Until A's burst has drained with B's stream still running: finished tasks (A's and B's) reach
 * A's count plus B's tasks sent at least SETTLE_MS before (which have started and finished
 * unless B is held up, and then A has not drained either). A B task still open can make it look
 * drained by at most that many of A's tasks, milliseconds of work: hence the tail after it, and
 * the check afterwards that B's last request came after A's last finish.
 */
async function waitForDrainBeside(
  plan: Plan,
  reader: Reader,
  base: number,
  aTasks: number,
  stream: Stream,
): Promise<void> {
  const deadline = drainDeadline(aTasks);
  const sentAt: { at: number; sent: number }[] = [];
  for (;;) {
    const now = Date.now();
    sentAt.push({ at: now, sent: stream.sent() });
    const settled = sentAt.filter((s) => s.at <= now - SETTLE_MS).at(-1)?.sent ?? 0;
    const done = (await reader.finished()) - base;
    if (done >= aTasks + settled - stream.failed()) return;
    if (Date.now() > deadline) {
      throw new Error(`${plan.system}: A's burst beside B finished ${done} of about ${aTasks + settled}`);
    }
    await sleep(100);
  }
}

/** A's tasks per second from its first submission to its last finish, read from every task's record. */
async function drainRate(
  plan: Plan,
  reader: Reader,
  a: { ids: string[]; from: number },
): Promise<{ perSec: number; lastFinish: number; finished: number }> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const times = await reader.finishTimes(a.ids);
    const finished = times.filter((t): t is number => t !== undefined);
    if (finished.length === a.ids.length) {
      const lastFinish = finished.reduce((m, t) => Math.max(m, t), 0);
      return {
        perSec: a.ids.length / (Math.max(1, lastFinish - a.from) / 1000),
        lastFinish,
        finished: finished.length,
      };
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${plan.system}: ${a.ids.length - finished.length} of A's ${a.ids.length} tasks never finished`,
      );
    }
    await sleep(200);
  }
}

/**
 * Start latency (ms) of every submitted task, in `submitted`'s order, once all have started;
 * bounded, so a tenant starved for good fails the run.
 */
async function startLatencies(plan: Plan, reader: Reader, submitted: Submitted[]): Promise<number[]> {
  if (submitted.length === 0) throw new Error(`${plan.system}: no B submission was accepted`);
  const out: (number | undefined)[] = submitted.map(() => undefined);
  let open = submitted.map((_, i) => i);
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const times = await reader.startTimes(open.map((i) => submitted[i]!.id));
    open = open.filter((i, k) => {
      const at = times[k];
      if (at !== undefined) out[i] = at - submitted[i]!.startedAt;
      return at === undefined;
    });
    if (open.length === 0) return out as number[];
    if (Date.now() > deadline) {
      throw new Error(`${plan.system}: ${open.length} of ${submitted.length} of B's tasks never started`);
    }
    await sleep(200);
  }
}
