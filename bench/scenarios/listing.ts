import { Redis } from 'ioredis';
import { RedisKeys } from '../../services/shared/redis/keys';
import { TaskIndex } from '../../services/shared/redis/task-index';
import { startChild, type Child } from '../child';
import { dropQueues } from '../cleanup';
import type { BenchOptions } from '../options';
import { benchQueue, REDIS_URL } from '../stack';
import { percentile } from '../stats';
import {
  COMMON_TYPE,
  fillQueue,
  QUERIED_TENANT,
  RARE_TYPE,
  SEARCHED_KEY_PREFIX,
  SEARCHED_TEXT,
  TASK_TYPES,
  TYPE_SHARES,
} from './listing-fill';

/** One query of the listing as the report shows it. */
export interface ListingQuery {
  name: string;
  /** GET /v1/tasks?… as sent (the deep one: with its cursor added per page). */
  query: string;
  /** Whether it names a filter (the issue's goal is about a filtered page). */
  filtered: boolean;
  requests: number;
  /** Answers other than 200, and 200s with no items: both should be 0. */
  failed: number;
  empty: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Medians over its requests: tasks returned, index entries the search examined. */
  items: number;
  scanned: number;
}

export interface ListingResult {
  records: number;
  /**
   * Writing the records through RedisTaskStore.transitionMany, and the CPU it took: Redis' own
   * (INFO cpu: other clients of the shared server count too) and this process's.
   */
  fill: { seconds: number; transitions: number; redisCpuSeconds: number; clientCpuSeconds: number };
  /** Tasks per status after the fill, from the counts hash. */
  counts: Record<string, number>;
  /** TaskIndex.memory(): every index of the queue. */
  index: { indexes: number; entries: number; bytes: number };
  /** MEMORY USAGE of sampled task records, mean bytes. */
  recordBytes: number;
  /** Redis' used_memory before and after the fill (a shared server: others' keys move it too). */
  usedMemoryGrowth: number;
  /** Pages followed before the deep query's timed ones. */
  deepPages: number;
  queries: ListingQuery[];
}

/** Records whose MEMORY USAGE is averaged. */
const RECORD_SAMPLE = 1000;
/** Untimed requests of each query first (scripts loaded, connections open). */
const WARM_UP = 3;

interface QueryPlan {
  name: string;
  query: string;
  filtered: boolean;
  /** Follow nextCursor from page to page (after `deepPages` untimed ones) instead of asking page 1. */
  deep?: boolean;
}

const PLANS: QueryPlan[] = [
  { name: 'unfiltered, first page', query: '', filtered: false },
  { name: 'status=failed', query: 'status=failed', filtered: true },
  { name: 'type, common', query: `type=${COMMON_TYPE}`, filtered: true },
  { name: 'type, rare', query: `type=${RARE_TYPE}`, filtered: true },
  { name: 'status=failed, type common', query: `status=failed&type=${COMMON_TYPE}`, filtered: true },
  { name: 'tenant, status=failed', query: `tenant=${QUERIED_TENANT}&status=failed`, filtered: true },
  { name: 'status=failed, text', query: `status=failed&q=${SEARCHED_TEXT}`, filtered: true },
  { name: 'key prefix', query: `key=${SEARCHED_KEY_PREFIX}`, filtered: true },
  { name: 'unfiltered, deep pages', query: '', filtered: false, deep: true },
  { name: 'unfiltered, limit=200', query: 'limit=200', filtered: false },
];

/**
 * The task listing (GET /v1/tasks) over a queue of `listingRecords` records: filled through
 * RedisTaskStore as production writes them (listing-fill.ts), then each query of PLANS asked
 * `listingRequests` times, one request at a time, of a real API process, the queries taking
 * turns request by request so a busy spell on the shared machine weighs on all of them alike.
 * Latency is measured at the client, from the request to the last byte of the answer.
 */
export async function listingScenario(options: BenchOptions): Promise<ListingResult> {
  const queue = benchQueue('spillway');
  const keys = new RedisKeys(queue);
  const redis = new Redis(REDIS_URL);
  const index = new TaskIndex({ url: REDIS_URL, queue, commandTimeoutMs: 0 });
  let api: Child | undefined;
  try {
    // Started first: a run that cannot start it fails before the long fill, not after.
    api = await startChild('spillway', 'api', queue);
    const usedBefore = await usedMemory(redis);
    const cpuBefore = { redis: await redisCpuSeconds(redis), client: process.cpuUsage() };
    const filled = await fillQueue(queue, options.listingRecords);
    const clientCpu = process.cpuUsage(cpuBefore.client);
    const fill = {
      ...filled,
      redisCpuSeconds: (await redisCpuSeconds(redis)) - cpuBefore.redis,
      clientCpuSeconds: (clientCpu.user + clientCpu.system) / 1e6,
    };
    const usedMemoryGrowth = (await usedMemory(redis)) - usedBefore;
    console.log(
      `listing: ${options.listingRecords} records in ${fill.seconds.toFixed(1)} s ` +
        `(${Math.round(options.listingRecords / fill.seconds)} tasks/s)`,
    );
    const counts = Object.fromEntries(
      Object.entries(await redis.hgetall(keys.counts())).map(([k, v]) => [k, Number(v)]),
    );
    const memory = await index.memory();
    const recordBytes = await sampledRecordBytes(redis, keys);
    const queries = await askAll(api.url, options);
    for (const q of queries) {
      console.log(
        `listing ${q.name}: p50 ${q.p50Ms.toFixed(1)} ms, p99 ${q.p99Ms.toFixed(1)} ms, ` +
          `${q.items} items of ${q.scanned} scanned`,
      );
    }
    return {
      records: options.listingRecords,
      fill: {
        seconds: fill.seconds,
        transitions: fill.transitions,
        redisCpuSeconds: fill.redisCpuSeconds,
        clientCpuSeconds: fill.clientCpuSeconds,
      },
      counts,
      index: memory,
      recordBytes,
      usedMemoryGrowth,
      deepPages: options.listingDeepPages,
      queries,
    };
  } finally {
    await api?.stop();
    await index.close();
    redis.disconnect();
    await dropQueues([{ system: 'spillway', queue }]);
  }
}

/** Every query's requests, in rounds: one request of each query per round. */
async function askAll(url: string, options: BenchOptions): Promise<ListingQuery[]> {
  const runs = PLANS.map((plan) => ({
    plan,
    cursor: undefined as string | undefined,
    samples: [] as Sample[],
  }));
  for (const run of runs) {
    if (run.plan.deep) {
      for (let i = 0; i < options.listingDeepPages; i++) {
        run.cursor = (await ask(url, run.plan.query, run.cursor)).nextCursor ?? run.cursor;
      }
    }
    for (let i = 0; i < WARM_UP && !run.plan.deep; i++) await ask(url, run.plan.query);
  }
  for (let round = 0; round < options.listingRequests; round++) {
    for (const run of runs) {
      const sample = await ask(url, run.plan.query, run.cursor);
      // The deep query walks on; were the listing to end, it would start again past page 1.
      if (run.plan.deep) run.cursor = sample.nextCursor ?? run.cursor;
      run.samples.push(sample);
    }
  }
  return runs.map(({ plan, samples }) => summarise(plan, samples));
}

interface Sample {
  ms: number;
  status: number;
  items: number;
  scanned: number;
  nextCursor?: string;
}

async function ask(url: string, query: string, cursor?: string): Promise<Sample> {
  const params = [query, cursor === undefined ? '' : `cursor=${cursor}`].filter(Boolean).join('&');
  const started = performance.now();
  const res = await fetch(`${url}/v1/tasks${params ? `?${params}` : ''}`, {
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200) return { ms, status: res.status, items: 0, scanned: 0 };
  const body = JSON.parse(text) as { items: unknown[]; scanned: number; nextCursor: string | null };
  return {
    ms,
    status: res.status,
    items: body.items.length,
    scanned: body.scanned,
    ...(body.nextCursor !== null && { nextCursor: body.nextCursor }),
  };
}

function summarise(plan: QueryPlan, samples: Sample[]): ListingQuery {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const median = (values: number[]) =>
    percentile(
      [...values].sort((a, b) => a - b),
      50,
    );
  return {
    name: plan.name,
    query: plan.deep ? `${plan.query}cursor=…` : plan.query,
    filtered: plan.filtered,
    requests: samples.length,
    failed: samples.filter((s) => s.status !== 200).length,
    empty: samples.filter((s) => s.status === 200 && s.items === 0).length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    maxMs: ms[ms.length - 1]!,
    items: median(samples.map((s) => s.items)),
    scanned: median(samples.map((s) => s.scanned)),
  };
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? 0);
}

/** Mean MEMORY USAGE of RECORD_SAMPLE task records drawn at random from every task's index. */
async function sampledRecordBytes(redis: Redis, keys: RedisKeys): Promise<number> {
  const ids = (await redis.call('ZRANDMEMBER', keys.tasksByCreation(), String(RECORD_SAMPLE))) as string[];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.call('MEMORY', 'USAGE', keys.task(id), 'SAMPLES', '0');
  const sizes = ((await pipeline.exec()) ?? []).map(([, bytes]) => Number(bytes ?? 0)).filter((b) => b > 0);
  return sizes.length === 0 ? 0 : sizes.reduce((s, b) => s + b, 0) / sizes.length;
}

/** The share of tasks of the queried types, for the report (the rest follow 1 / rank^1.6). */
export const QUERIED_TYPE_SHARES = {
  common: { type: COMMON_TYPE, share: TYPE_SHARES[0]! },
  rare: { type: RARE_TYPE, share: TYPE_SHARES[TASK_TYPES.length - 1]! },
};
