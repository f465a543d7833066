/** The report's sections for scenarios 4–7 and the profiles; report.ts puts them together. */
import path from 'node:path';
import { DEFAULT_PARTITIONS } from './child';
import { MAX_TRANSITIONS_PER_CALL } from '../services/shared/redis/redis-task-store';
import type { ProfileSummary, SelfTime } from './cpu-profile';
import { fmt, percent, ratio, table } from './markdown';
import type { BenchOptions } from './options';
import type { BurstRow } from './scenarios/burst';
import type { CeilingsResult } from './scenarios/ceilings';
import type { DrainRow } from './scenarios/drain';
import type { E2eRow } from './scenarios/e2e';
import type { EnqueueRow } from './scenarios/enqueue';
import { PROFILE_CONNECTIONS, type ProfilesResult } from './scenarios/profiles';
import type { ScaleRow } from './scenarios/scaleout';
import { formatSummary } from './stats';

const maybe = (n: number | undefined) => (n === undefined ? 'n/a' : String(n));
const image = (alt: string, file: string | undefined) => (file ? `\n\n![${alt}](${file})` : '');

export function renderE2e(rows: E2eRow[], plot: string | undefined): string {
  return (
    table(
      [
        'system',
        'rate (½ of max)',
        'tasks per run',
        'worker concurrency',
        'p50 ms',
        'p99 ms',
        'max ms',
        'failed submissions',
      ],
      rows.map((r) => [
        r.system,
        `${fmt(r.ratePerSec)}/s (max ${fmt(r.maxPerSec)})`,
        String(r.tasks),
        String(r.workerConcurrency),
        formatSummary(r.p50Ms),
        formatSummary(r.p99Ms),
        formatSummary(r.maxMs),
        String(r.failures),
      ]),
    ) + image('End-to-end latency p50 and p99 by system', plot)
  );
}

export function renderBurst(rows: BurstRow[]): string {
  const load = table(
    [
      'system',
      'tasks',
      'clients × batch',
      'accepted in s',
      'accepted tasks/s',
      'all succeeded in s',
      'API peak RSS MiB',
      'worker peak RSS MiB',
      'answers retried (503 / 409)',
    ],
    rows.map((r) => [
      r.system,
      String(r.tasks),
      `${r.clients} × ${r.batch}`,
      formatSummary(r.acceptSeconds, 1),
      formatSummary(r.acceptPerSec),
      formatSummary(r.doneSeconds, 1),
      formatSummary(r.apiPeakRssMiB),
      formatSummary(r.workerPeakRssMiB),
      `${r.retried503} / ${r.retried409}`,
    ]),
  );
  const reconciliation = table(
    [
      'system',
      'accepted',
      'succeeded',
      'lost',
      'executions',
      'executed twice',
      'attempts ≠ 1',
      'redeliveries skipped',
    ],
    rows.map(({ system, reconciliation: c }) => [
      system,
      String(c.accepted),
      String(c.succeeded),
      String(c.lost),
      maybe(c.executions),
      maybe(c.executedTwice),
      String(c.attemptsNotOne),
      maybe(c.redeliveriesSkipped),
    ]),
  );
  return `${load}\n\n### Burst reconciliation (all runs together)\n\n${reconciliation}`;
}

export function renderScaleOut(rows: ScaleRow[], plot: string | undefined): string {
  return (
    table(
      [
        'workers',
        'partitions',
        'concurrency per worker',
        'tasks',
        'tasks/s',
        'speed-up vs 1 worker',
        'limit (workers × concurrency / task time)',
      ],
      rows.map((r) => [
        String(r.workers),
        String(r.partitions),
        String(r.concurrency),
        String(r.tasks),
        formatSummary(r.tasksPerSec),
        `${r.speedup.toFixed(2)}×`,
        fmt(r.limitPerSec),
      ]),
    ) + image('Scale-out: drain rate by worker processes', plot)
  );
}

/** The lower of the two ceilings, per task. */
export function lowerCeiling(c: CeilingsResult): { name: string; tasksPerSec: number } | undefined {
  const candidates = [
    { name: 'Kafka', tasksPerSec: c.kafka.tasksPerSec?.median },
    { name: 'Redis', tasksPerSec: c.redis.tasksPerSec?.median },
  ].filter((x): x is { name: string; tasksPerSec: number } => x.tasksPerSec !== undefined);
  return candidates.sort((a, b) => a.tasksPerSec - b.tasksPerSec)[0];
}

export function renderCeilings(c: CeilingsResult, drain: DrainRow[], enqueue: EnqueueRow[]): string {
  const rows: string[][] = [
    [
      'Kafka',
      `ProducerPerformance, ${c.messageBytes}-byte records, acks=all, ${DEFAULT_PARTITIONS} partitions`,
      c.kafka.tasksPerSec
        ? `${formatSummary(c.kafka.tasksPerSec)} records/s`
        : `unavailable: ${c.kafka.unavailable}`,
      c.kafka.tasksPerSec ? formatSummary(c.kafka.tasksPerSec) : 'n/a',
    ],
    ...c.redis.transitions.map((t) => [
      'Redis',
      `redis-benchmark EVALSHA, ${MAX_TRANSITIONS_PER_CALL} transitions → ${t.status} per call`,
      `${formatSummary(t.perSec)} transitions/s`,
      '',
    ]),
  ];
  if (c.redis.tasksPerSec) {
    rows.push(['Redis', 'one task: queued + running + succeeded', '', formatSummary(c.redis.tasksPerSec)]);
    rows.push([
      'Redis',
      "the worker's part: running + succeeded",
      '',
      formatSummary(c.redis.drainTasksPerSec!),
    ]);
  } else {
    rows.push(['Redis', 'redis-benchmark', `unavailable: ${c.redis.unavailable}`, 'n/a']);
  }
  const lines: string[] = [];
  const lower = lowerCeiling(c);
  const drained = drain.find((r) => r.system === 'spillway')?.tasksPerSec.median;
  if (lower && drained !== undefined) {
    const workerPart = c.redis.drainTasksPerSec?.median;
    lines.push(
      `Spillway's drain, ${fmt(drained)} tasks/s, is ${percent(drained / lower.tasksPerSec)} of the lower ceiling ` +
        `(${lower.name}, ${fmt(lower.tasksPerSec)} tasks/s)` +
        (workerPart
          ? `; against the Redis work a draining worker does itself (running + succeeded, ` +
            `${fmt(workerPart)} tasks/s) it is ${percent(drained / workerPart)}.`
          : '.'),
    );
  }
  const batch = Math.max(
    0,
    ...enqueue
      .filter((r) => r.endpoint === 'batch' && r.system === 'spillway')
      .map((r) => r.tasksPerSec.median),
  );
  if (c.kafka.tasksPerSec && batch > 0) {
    lines.push(
      `Spillway's best batch enqueue, ${fmt(batch)} tasks/s, is ${percent(batch / c.kafka.tasksPerSec.median)} ` +
        `of Kafka's producer ceiling.`,
    );
  }
  return (
    table(['ceiling', 'what runs', 'measured', 'tasks/s'], rows) +
    (lines.length > 0 ? `\n\n${lines.map((l) => `- ${l}`).join('\n')}` : '')
  );
}

const selfTable = (head: string, xs: SelfTime[], withWhere: boolean) =>
  table(
    withWhere ? [head, 'where', 'self ms', 'of busy time'] : [head, 'self ms', 'of busy time'],
    xs.map((x) => [
      `\`${x.name.replace(/\|/g, '\\|')}\``,
      ...(withWhere ? [`\`${x.where}\``] : []),
      fmt(x.ms),
      percent(x.share),
    ]),
  );

function renderProfile(title: string, why: string, p: ProfileSummary): string {
  const roles = p.roles
    .filter((r) => r.share >= 0.01)
    .map((r) => `${r.name} ${percent(r.share)}`)
    .join(', ');
  return `### ${title}

${why} The process was busy ${fmt(p.busyMs)} ms of the ${fmt(p.totalMs)} ms profiled
(\`${path.relative(process.cwd(), p.file)}\`). Where that time went, by self time: ${roles}.

${selfTable('module or area', p.modules, false)}

${selfTable('function', p.functions, true)}`;
}

export function renderProfiles(
  p: ProfilesResult,
  enqueue: EnqueueRow[],
  drain: DrainRow[],
  options: BenchOptions,
): string {
  const at = (s: string) =>
    enqueue.find((r) => r.endpoint === 'single' && r.system === s && r.concurrency === PROFILE_CONNECTIONS)
      ?.tasksPerSec.median;
  const drained = (s: string) => drain.find((r) => r.system === s)?.tasksPerSec.median;
  const enqueueWhy =
    `Enqueue at ${PROFILE_CONNECTIONS} connections is ${ratio(at('spillway'), at('bare'))} bare Express ` +
    `(target ≥ 0.9×) and ${ratio(at('spillway'), at('bullmq'))} BullMQ (target ≥ 1.1×). ` +
    `Bare Express does the HTTP and JSON part alone; the Kafka and Redis clients, Spillway's own code ` +
    `and their share of Node.js core are what Spillway adds to every request.`;
  const drainWhy =
    `Drain is ${ratio(drained('spillway'), drained('bullmq'))} BullMQ (target ≥ 1×); the worker ran ` +
    `${fmt(p.drainedTasks)} queued \`echo\` tasks while profiled.`;
  return [
    `Separate profiled runs (the profiler's overhead is in no figure above): the API under ${options.profileSeconds} s ` +
      `of single submissions at ${PROFILE_CONNECTIONS} connections, then one worker draining what that queued. ` +
      `Self time excludes idle time; the .cpuprofile files open in Chrome DevTools or speedscope.`,
    renderProfile(
      `Spillway API during enqueue (\`POST /v1/tasks\`, ${PROFILE_CONNECTIONS} connections)`,
      enqueueWhy,
      p.api,
    ),
    renderProfile('Spillway worker during drain', drainWhy, p.worker),
  ].join('\n\n');
}

/** Headline lines for scenarios 4–7. */
export function newHeadlines(r: {
  e2e: E2eRow[];
  burst: BurstRow[];
  scaleOut: ScaleRow[];
  ceilings?: CeilingsResult;
  drain: DrainRow[];
}): string[] {
  const lines: string[] = [];
  if (r.e2e.length > 0) {
    lines.push(
      'end-to-end at half of max rate: ' +
        r.e2e
          .map((e) => `${e.system} p50 ${fmt(e.p50Ms.median)} ms / p99 ${fmt(e.p99Ms.median)} ms`)
          .join(', '),
    );
  }
  for (const b of r.burst) {
    lines.push(
      `burst of ${fmt(b.tasks)}: accepted at ${fmt(b.acceptPerSec.median)} tasks/s, all succeeded in ` +
        `${b.doneSeconds.median.toFixed(1)} s; lost ${b.reconciliation.lost}, executed twice ${maybe(b.reconciliation.executedTwice)}`,
    );
  }
  if (r.scaleOut.length > 0) {
    lines.push(
      'scale-out: ' +
        r.scaleOut
          .map(
            (s) => `${s.workers} worker(s) ${fmt(s.tasksPerSec.median)} tasks/s (${s.speedup.toFixed(2)}×)`,
          )
          .join(', '),
    );
  }
  const lower = r.ceilings && lowerCeiling(r.ceilings);
  const drained = r.drain.find((d) => d.system === 'spillway')?.tasksPerSec.median;
  if (lower && drained !== undefined) {
    lines.push(
      `ceilings: Spillway's drain is ${percent(drained / lower.tasksPerSec)} of the lower ceiling ` +
        `(${lower.name}, ${fmt(lower.tasksPerSec)} tasks/s)`,
    );
  }
  return lines;
}

/** Configuration lines for scenarios 4–7 and the profiles. */
export function newConfiguration(o: BenchOptions, c: CeilingsResult | undefined): string[] {
  return [
    `End-to-end latency: \`echo\` tasks, one per \`POST /v1/tasks\`, submitted open-loop at a fixed rate of half the ` +
      `system's best single-endpoint enqueue rate in this run, ${o.e2eSeconds} s counted per run` +
      (o.e2eWarmupSeconds > 0 ? ` after ${o.e2eWarmupSeconds} s not counted` : '') +
      `, one worker process running (Spillway and BullMQ concurrency 16, the naive consumer one at a ` +
      `time). Per task, from the start of its submit request to the finish time the worker wrote: Spillway's ` +
      `\`finishedAt\` on the task record, BullMQ's \`job.finishedOn\`, a \`finishedAt\` in the naive status JSON. ` +
      `One machine, one clock.`,
    `Burst (Spillway): ${o.burstTasks} \`echo\` tasks through \`POST /v1/tasks/batch\`, 1,000 per request, ` +
      `${o.burstClients} requests in flight, as a fan-out client with that many tasks would send them (a 503 is ` +
      `retried after Retry-After with the same Idempotency-Key, as is a 409 while an in-doubt first try ` +
      `settles); one worker (concurrency 16) running throughout. ` +
      `Peak RSS is the kernel's high-water mark (VmHWM) of each process. Reconciliation reads every accepted id's ` +
      `record (\`status\`, \`attempts\`) from Redis and the worker's \`spillway_tasks_processed_total\` counter.`,
    `Scale-out: ${o.scaleTasks} \`sleep\` ${o.scaleTaskMs} ms tasks per run on a topic of ${o.scalePartitions} partitions, ` +
      `worker processes of concurrency ${o.scaleConcurrency} added to one group step by step ` +
      `(${o.scaleWorkers.join(', ')}), each step measured once the group is stable; timed from the first ` +
      `submission (batch endpoint) to the last \`succeeded\`.`,
    `Ceilings: \`org.apache.kafka.tools.ProducerPerformance\` (kafka-tools, same version as the broker) with ` +
      `${o.kafkaCeilingRecords} records of ${c?.messageBytes ?? 'the task message'} bytes (an \`echo\` task as the API ` +
      `encodes it), \`acks=all\`, other producer settings default, on a throwaway topic of ${DEFAULT_PARTITIONS} partitions; ` +
      `\`redis-benchmark -n ${o.redisCeilingRequests} -r ${o.redisCeilingRequests} -c 8 -P 16\` running ` +
      `\`EVALSHA\` of Spillway's batched transition script, ${MAX_TRANSITIONS_PER_CALL} transitions per call as ` +
      `RedisTaskStore sends them (built by its \`callArgs\`), with the arguments the API (queued, with the ` +
      `task's spec) and worker (running with its claim, succeeded with a result) pass and the listing's indexes ` +
      `on (TASK_INDEXES' default), on ` +
      `keys of a throwaway queue, deleted afterwards. A task's Redis ceiling combines the three: ` +
      `1 / (1/q + 1/r + 1/s), in transitions per second.`,
    `Profiles: the inspector's CPU profiler (500 µs sampling) in the Spillway API and worker processes of a ` +
      `separate pass; files under \`.stack/bench-profiles/\` (not in git).`,
  ];
}
