import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Validator } from '../../services/api/validation';
import { ensureTopics } from '../../services/shared/kafka/client';
import { RedisKeys } from '../../services/shared/redis/keys';
import { MAX_TRANSITIONS_PER_CALL, RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import type { Transition } from '../../services/shared/redis/task-store';
import { TRANSITION_LUA } from '../../services/shared/redis/transition-script';
import { encodeTaskMessage } from '../../services/shared/task-message';
import { DEFAULT_PARTITIONS } from '../child';
import type { BenchOptions } from '../options';
import { benchKafka, KAFKA_BROKERS, REDIS_URL } from '../stack';
import { summarize, type Summary } from '../stats';
import { single } from './enqueue';
import { deleteMatching } from '../../tests/helpers/redis-keys';

const run = promisify(execFile);
const root = path.join(__dirname, '..', '..');
const CLASSPATH = path.join(root, '.stack/kafka/classpath.txt');

/** redis-benchmark clients and pipeline depth: enough in flight that Redis, not the client, is the limit. */
const REDIS_CLIENTS = 8;
const REDIS_PIPELINE = 16;

export interface CeilingsResult {
  /** Bytes of an `echo` task message as the API publishes it. */
  messageBytes: number;
  kafka: { tasksPerSec?: Summary; unavailable?: string };
  redis: {
    /** Each transition one task makes, in transitions per second. */
    transitions: { status: string; perSec: Summary }[];
    /** All three transitions: the Redis ceiling on tasks per second. */
    tasksPerSec?: Summary;
    /** The worker's two (running, succeeded): the ceiling on draining. */
    drainTasksPerSec?: Summary;
    unavailable?: string;
  };
}

/**
 * Scenario 7: what the local Kafka and Redis can do at most for the work one task costs, in the
 * same run: Kafka's own producer load tool with Spillway's message size and acks=all, and
 * redis-benchmark running Spillway's transition script as the API and the worker call it.
 */
export async function ceilingsScenario(options: BenchOptions): Promise<CeilingsResult> {
  const messageBytes = taskMessageBytes();
  const result: CeilingsResult = {
    messageBytes,
    kafka: await kafkaCeiling(options, messageBytes).catch((err: unknown) => ({
      unavailable: `ProducerPerformance failed: ${firstLine(err)}`,
    })),
    redis: await redisCeiling(options).catch((err: unknown) => ({
      transitions: [],
      unavailable: `redis-benchmark failed: ${firstLine(err)}`,
    })),
  };
  console.log(
    `ceilings: kafka ${result.kafka.tasksPerSec?.median.toFixed(0) ?? result.kafka.unavailable} tasks/s, ` +
      `redis ${result.redis.tasksPerSec?.median.toFixed(0) ?? result.redis.unavailable} tasks/s`,
  );
  return result;
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

/** The message the API would publish for the enqueue scenario's body: validated, then encoded. */
function taskMessageBytes(): number {
  const now = Date.now();
  const submission = new Validator(1).submission(JSON.parse(single), now);
  return encodeTaskMessage({ id: randomUUID(), enqueuedAt: now, ...submission }).length;
}

/** The local stack's jars with kafka-tools among them, resolving them again if the pom gained it since. */
async function toolsClasspath(): Promise<string | undefined> {
  const read = () => (existsSync(CLASSPATH) ? readFileSync(CLASSPATH, 'utf8').trim() : '');
  if (/kafka-tools-[\d.]+\.jar/.test(read())) return read();
  const resolve = 'source scripts/lib/common.sh && source scripts/lib/kafka.sh && kafka_classpath';
  await run('bash', ['-c', resolve], { cwd: root, timeout: 300_000 }).catch(() => undefined);
  return /kafka-tools-[\d.]+\.jar/.test(read()) ? read() : undefined;
}

async function kafkaCeiling(options: BenchOptions, messageBytes: number): Promise<CeilingsResult['kafka']> {
  const classpath = await toolsClasspath();
  if (!classpath) {
    return { unavailable: 'kafka-tools is not on .stack/kafka/classpath.txt (see scripts/kafka/pom.xml)' };
  }
  const admin = benchKafka().admin();
  const topic = `bench-ceiling-${randomBytes(4).toString('hex')}`;
  await admin.connect();
  try {
    // As many partitions as Spillway's tasks topic has in the enqueue scenario.
    await ensureTopics(admin, [topic], DEFAULT_PARTITIONS);
    const rates: number[] = [];
    for (let i = 0; i < options.repeats; i++) {
      const { stdout } = await run(
        'java',
        [
          '-Xms256m',
          '-Xmx512m',
          '-cp',
          classpath,
          'org.apache.kafka.tools.ProducerPerformance',
          '--topic',
          topic,
          '--num-records',
          String(options.kafkaCeilingRecords),
          '--record-size',
          String(messageBytes),
          '--throughput',
          '-1',
          '--producer-props',
          `bootstrap.servers=${KAFKA_BROKERS}`,
          'acks=all',
        ],
        { timeout: 600_000, maxBuffer: 16 * 2 ** 20 },
      );
      // The summary line: "N records sent, R records/sec (M MB/sec), ..."
      const m = /(\d+) records sent, ([\d.]+) records\/sec/.exec(stdout.split('\n').reverse().join('\n'));
      if (!m) throw new Error(`no summary in ProducerPerformance's output: ${stdout.slice(-300)}`);
      rates.push(Number(m[2]));
    }
    return { tasksPerSec: summarize(rates) };
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

/** One step of a task's life as redis-benchmark runs it: a status and its EVALSHA arguments. */
export interface TransitionCall {
  status: string;
  args: string[];
}

/**
 * Each transition of one task's life as RedisTaskStore sends it: a TRANSITION_LUA call of
 * MAX_TRANSITIONS_PER_CALL transitions of that status, each on its own task (redis-benchmark
 * draws a fresh number for every `__rand_int__`), with what the API (queued: the spec) and the
 * worker (running: its claim; succeeded: the result) pass. The arguments come from the store
 * itself (callArgs), so they follow the script's layout, the indexing flag included.
 */
export function transitionCalls(queue: string, now: number, indexing: boolean): TransitionCall[] {
  // Not connected: callArgs only builds the arguments. The records expire soon after the run;
  // the scenarios delete them anyway.
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 600, indexing });
  const submission = new Validator(1).submission(JSON.parse(single), now);
  const at = new Date(now);
  const base = { id: '__rand_int__', type: submission.type, createdAt: at, at };
  const call = (change: Transition): string[] =>
    store.callArgs(Array.from({ length: MAX_TRANSITIONS_PER_CALL }, () => change)).map(String);
  return [
    {
      status: 'queued',
      args: call({
        ...base,
        status: 'queued',
        attempt: 0,
        spec: { payload: submission.payload ?? null, maxAttempts: submission.maxAttempts },
      }),
    },
    {
      status: 'running',
      args: call({ ...base, status: 'running', attempt: 1, claim: { claimant: 'bench-worker', ms: 60_000 } }),
    },
    { status: 'succeeded', args: call({ ...base, status: 'succeeded', attempt: 1, result: { n: 1 } }) },
  ];
}

/** Whether redis-benchmark is on the PATH. */
export const redisBenchmarkAvailable = () =>
  run('redis-benchmark', ['--version']).then(
    () => true,
    () => false,
  );

/**
 * One redis-benchmark run of EVALSHA `sha` with `args` (REDIS_CLIENTS clients, REDIS_PIPELINE
 * deep, `requests` calls, ids drawn at random from `keyspace`): transitions per second.
 */
export async function benchmarkTransitions(
  sha: string,
  args: string[],
  requests: number,
  keyspace = requests,
): Promise<number> {
  const url = new URL(REDIS_URL);
  const n = String(requests);
  const { stdout } = await run(
    'redis-benchmark',
    [
      ...['-h', url.hostname, '-p', url.port || '6379'],
      ...[
        '-n',
        n,
        '-r',
        String(keyspace),
        '-c',
        String(REDIS_CLIENTS),
        '-P',
        String(REDIS_PIPELINE),
        '--csv',
      ],
      ...['EVALSHA', sha, ...args],
    ],
    { timeout: 300_000 },
  );
  // --csv: a header, then "command","rps", then six latency fields; the command itself may
  // hold quotes (the result argument), so count from the end.
  const fields = stdout.trim().split('\n').at(-1)?.split('","') ?? [];
  const rps = Number(fields[fields.length - 7]);
  if (!(rps > 0)) throw new Error(`no rate in redis-benchmark's output: ${stdout.slice(-300)}`);
  return rps * MAX_TRANSITIONS_PER_CALL;
}

/** Transitions per second of each step into what one task's steps from `from` on allow together. */
export const tasksPerSecOf = (rates: number[], from = 0) =>
  1 / rates.slice(from).reduce((s, x) => s + 1 / x, 0);

async function redisCeiling(options: BenchOptions): Promise<CeilingsResult['redis']> {
  if (!(await redisBenchmarkAvailable()))
    return { transitions: [], unavailable: 'redis-benchmark is not installed' };
  const redis = new Redis(REDIS_URL);
  const queue = `bench-ceiling-${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(queue);
  try {
    const sha = (await redis.script('LOAD', TRANSITION_LUA)) as string;
    // With the listing's indexes, as Spillway runs by default (TASK_INDEXES=true).
    const steps = transitionCalls(queue, Date.now(), true);
    const perRun: number[][] = [];
    for (let i = 0; i < options.repeats; i++) {
      const rates: number[] = [];
      // In a task's order: most `running` calls find a queued record, most `succeeded` a running one.
      for (const { args } of steps)
        rates.push(await benchmarkTransitions(sha, args, options.redisCeilingRequests));
      perRun.push(rates);
      await deleteMatching(redis, `${keys.prefix}*`);
    }
    const combined = (from: number) => summarize(perRun.map((r) => tasksPerSecOf(r, from)));
    return {
      transitions: steps.map(({ status }, i) => ({ status, perSec: summarize(perRun.map((r) => r[i]!)) })),
      tasksPerSec: combined(0),
      drainTasksPerSec: combined(1),
    };
  } finally {
    // The scenario's own keys only: no FLUSHALL on a shared Redis.
    await deleteMatching(redis, `${keys.prefix}*`).catch(() => undefined);
    redis.disconnect();
  }
}
