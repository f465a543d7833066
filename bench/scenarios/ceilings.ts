import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Validator } from '../../services/api/validation';
import { ensureTopics } from '../../services/shared/kafka/client';
import { RedisKeys } from '../../services/shared/redis/keys';
import { MAX_TRANSITIONS_PER_CALL } from '../../services/shared/redis/redis-task-store';
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

/**
 * Each transition of one task's life as RedisTaskStore sends it (redis-task-store.ts): a
 * TRANSITION_LUA call of MAX_TRANSITIONS_PER_CALL transitions of that status, each on its
 * own task (redis-benchmark draws a fresh number for every `__rand_int__`).
 */
function transitionCalls(keys: RedisKeys, now: number): { status: string; args: string[] }[] {
  const id = '__rand_int__';
  const one = (status: string, attempt: number, phase: number, waiting: string, fields: string[] = []) => [
    id,
    status,
    String(attempt),
    String(phase),
    // The records expire soon after the run; the scenario deletes them anyway.
    '600',
    'echo',
    String(now),
    keys.finishedChannel(id),
    waiting,
    ...fields,
  ];
  const call = (args: string[]) => {
    const taskKeys = Array.from({ length: MAX_TRANSITIONS_PER_CALL }, () => keys.task(id));
    const keyList = [keys.counts(), keys.waiting(), ...taskKeys];
    const perTransition = Array.from({ length: MAX_TRANSITIONS_PER_CALL }, () => [
      String(args.length),
      ...args,
    ]);
    return [String(keyList.length), ...keyList, ...perTransition.flat()];
  };
  return [
    { status: 'queued', args: call(one('queued', 0, 1, String(now))) },
    { status: 'running', args: call(one('running', 1, 2, '', ['startedAt', String(now)])) },
    {
      status: 'succeeded',
      args: call(one('succeeded', 1, 4, '', ['finishedAt', String(now), 'result', '{"n":1}'])),
    },
  ];
}

async function redisCeiling(options: BenchOptions): Promise<CeilingsResult['redis']> {
  const available = await run('redis-benchmark', ['--version']).then(
    () => true,
    () => false,
  );
  if (!available) return { transitions: [], unavailable: 'redis-benchmark is not installed' };
  const url = new URL(REDIS_URL);
  const redis = new Redis(REDIS_URL);
  const keys = new RedisKeys(`bench-ceiling-${randomBytes(4).toString('hex')}`);
  try {
    const sha = (await redis.script('LOAD', TRANSITION_LUA)) as string;
    const steps = transitionCalls(keys, Date.now());
    const perRun: number[][] = [];
    for (let i = 0; i < options.repeats; i++) {
      const rates: number[] = [];
      // In a task's order: most `running` calls find a queued record, most `succeeded` a running one.
      for (const { args } of steps) {
        const n = String(options.redisCeilingRequests);
        const { stdout } = await run(
          'redis-benchmark',
          [
            ...['-h', url.hostname, '-p', url.port || '6379'],
            ...['-n', n, '-r', n, '-c', String(REDIS_CLIENTS), '-P', String(REDIS_PIPELINE), '--csv'],
            ...['EVALSHA', sha, ...args],
          ],
          { timeout: 300_000 },
        );
        // --csv: a header, then "command","rps", then six latency fields; the command itself may
        // hold quotes (the result argument), so count from the end.
        const fields = stdout.trim().split('\n').at(-1)?.split('","') ?? [];
        const rps = Number(fields[fields.length - 7]);
        if (!(rps > 0)) throw new Error(`no rate in redis-benchmark's output: ${stdout.slice(-300)}`);
        rates.push(rps * MAX_TRANSITIONS_PER_CALL);
      }
      perRun.push(rates);
      await deleteMatching(redis, `${keys.prefix}*`);
    }
    const combined = (from: number) =>
      summarize(perRun.map((r) => 1 / r.slice(from).reduce((s, x) => s + 1 / x, 0)));
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
