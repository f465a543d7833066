import type { Machine } from './machine';
import { fmt, ratio, table } from './markdown';
import { SCENARIOS, type BenchOptions, type ScenarioName } from './options';
import type { PlotName } from './plots';
import { renderCpu } from './report-cpu';
import { fanoutHeadline, renderFanout } from './report-fanout';
import { listingConfiguration, listingHeadline, listingTarget, renderListing } from './report-listing';
import { noisyConfiguration, noisyHeadline, noisyTarget, renderNoisy } from './report-noisy';
import { priorityConfiguration, priorityHeadline, priorityTarget, renderPriority } from './report-priority';
import {
  lowerCeiling,
  newConfiguration,
  newHeadlines,
  renderBurst,
  renderCeilings,
  renderE2e,
  renderProfiles,
  renderScaleOut,
} from './report-sections';
import { renderUpkeep, upkeepConfiguration, upkeepHeadline, upkeepTarget } from './report-upkeep';
import type { BurstRow } from './scenarios/burst';
import type { CeilingsResult } from './scenarios/ceilings';
import type { DrainRow } from './scenarios/drain';
import type { E2eRow } from './scenarios/e2e';
import type { EnqueueRow } from './scenarios/enqueue';
import type { FanoutRow } from './scenarios/fanout';
import type { ListingResult } from './scenarios/listing';
import type { NoisyRow } from './scenarios/noisy';
import type { PriorityRow } from './scenarios/priority';
import type { ProfilesResult } from './scenarios/profiles';
import type { ScaleRow } from './scenarios/scaleout';
import type { SlowRow } from './scenarios/slow';
import type { UpkeepResult } from './scenarios/upkeep';
import { formatSummary } from './stats';

export interface Results {
  machine: Machine;
  options: BenchOptions;
  startedAt: Date;
  seconds: number;
  enqueue: EnqueueRow[];
  drain: DrainRow[];
  slow: SlowRow[];
  e2e: E2eRow[];
  priority: PriorityRow[];
  noisy: NoisyRow[];
  burst: BurstRow[];
  scaleOut: ScaleRow[];
  fanout: FanoutRow[];
  listing?: ListingResult;
  upkeep?: UpkeepResult;
  ceilings?: CeilingsResult;
  profiles?: ProfilesResult;
  /** SVG charts written beside the report, by name, relative to it. */
  plots: Partial<Record<PlotName, string>>;
}

/** Spillway's throughput divided by each other system's, per concurrency: the headline. */
export function headlines(results: Results): string[] {
  const lines: string[] = [];
  const single = results.enqueue.filter((r) => r.endpoint === 'single');
  for (const c of single.length > 0 ? results.options.concurrencies : []) {
    const at = (s: string) => single.find((r) => r.system === s && r.concurrency === c)?.tasksPerSec.median;
    lines.push(
      `enqueue c=${c}: Spillway ${ratio(at('spillway'), at('bare'))} bare Express, ` +
        `${ratio(at('spillway'), at('bullmq'))} BullMQ, ${ratio(at('spillway'), at('naive'))} naive; ` +
        `tenants on ${ratio(at('spillway-tenants'), at('spillway'))} off`,
    );
  }
  const batch = results.enqueue.filter((r) => r.endpoint === 'batch');
  const best = (s: string) =>
    Math.max(0, ...batch.filter((r) => r.system === s).map((r) => r.tasksPerSec.median));
  if (batch.length > 0) {
    lines.push(
      `enqueue batch (best): Spillway ${fmt(best('spillway'))} tasks/s, ` +
        `${ratio(best('spillway'), best('bullmq'))} BullMQ addBulk (target 50,000 tasks/s); ` +
        `tenants on ${ratio(best('spillway-tenants'), best('spillway'))} off`,
    );
  }
  const drained = (s: string) => results.drain.find((r) => r.system === s)?.tasksPerSec.median;
  if (results.drain.length > 0) {
    lines.push(
      `drain: Spillway ${fmt(drained('spillway') ?? 0)} tasks/s, ${ratio(drained('spillway'), drained('bullmq'))} BullMQ`,
    );
  }
  for (const r of results.slow) {
    lines.push(
      `slow tasks: ${r.system} c=${r.concurrency} at ${((r.tasksPerSec.median / r.limitPerSec) * 100).toFixed(0)}% of its limit ` +
        `(${((r.fromSubmissionPerSec.median / r.limitPerSec) * 100).toFixed(0)}% from the first submission)`,
    );
  }
  return [
    ...lines,
    ...newHeadlines(results),
    ...priorityHeadline(results.priority),
    ...noisyHeadline(results.noisy),
    ...fanoutHeadline(results.fanout),
    ...listingHeadline(results.listing),
    ...upkeepHeadline(results.upkeep),
  ];
}

const verdict = (met: boolean) => (met ? 'met' : '**not met**');

/** The issue's targets, each checked against this run's medians: goals reported, never asserted. */
export function targets(results: Results): string[] {
  const lines: string[] = [];
  const single = (s: string, c: number) =>
    results.enqueue.find((r) => r.endpoint === 'single' && r.system === s && r.concurrency === c);
  for (const c of results.options.concurrencies) {
    const [sp, bare, bull, naive] = ['spillway', 'bare', 'bullmq', 'naive'].map((s) => single(s, c));
    if (!sp || !bare || !bull || !naive) continue;
    const vsBare = sp.tasksPerSec.median / bare.tasksPerSec.median;
    const vsBull = sp.tasksPerSec.median / bull.tasksPerSec.median;
    lines.push(
      `Enqueue, ${c} connections: ${vsBare.toFixed(2)}× bare Express (target ≥ 0.9×: ${verdict(vsBare >= 0.9)}), ` +
        `${vsBull.toFixed(2)}× BullMQ (target ≥ 1.1×: ${verdict(vsBull >= 1.1)}), p99 ${sp.p99Ms.median} ms against ` +
        `BullMQ's ${bull.p99Ms.median} ms (${verdict(sp.p99Ms.median <= bull.p99Ms.median)}); ` +
        `${(sp.tasksPerSec.median / naive.tasksPerSec.median).toFixed(2)}× the naive design.`,
    );
  }
  lines.push(...tenantCost(results.enqueue));
  const batches = results.enqueue
    .filter((r) => r.endpoint === 'batch' && r.system === 'spillway')
    .map((r) => r.tasksPerSec.median);
  if (batches.length > 0) {
    const batch = Math.max(...batches);
    lines.push(`Batch endpoint: best ${fmt(batch)} tasks/s (target ≥ 50,000: ${verdict(batch >= 50_000)}).`);
  }
  const drained = (s: string) => results.drain.find((r) => r.system === s)?.tasksPerSec.median ?? 0;
  const lower = results.ceilings && lowerCeiling(results.ceilings);
  if (results.drain.length > 0)
    lines.push(
      `Drain: ${fmt(drained('spillway'))} tasks/s against BullMQ's ${fmt(drained('bullmq'))} ` +
        `(target ≥ BullMQ: ${verdict(drained('spillway') >= drained('bullmq'))}); ` +
        (lower
          ? `${((drained('spillway') / lower.tasksPerSec) * 100).toFixed(0)}% of the lower ceiling ` +
            `(${lower.name}, ${fmt(lower.tasksPerSec)} tasks/s).`
          : 'no ceiling measured in this run.'),
    );
  const slow = results.slow.find((r) => r.system === 'spillway');
  if (slow) {
    const share = slow.tasksPerSec.median / slow.limitPerSec;
    lines.push(
      `Slow tasks: the worker at ${(share * 100).toFixed(0)}% of concurrency / task time (target ≥ 80%: ${verdict(share >= 0.8)}); ` +
        `${((slow.fromSubmissionPerSec.median / slow.limitPerSec) * 100).toFixed(0)}% counted from the first submission.`,
    );
  }
  return [
    ...lines,
    ...priorityTarget(results.priority),
    ...noisyTarget(results.noisy),
    ...listingTarget(results.listing),
    ...upkeepTarget(results.upkeep),
  ];
}

/**
 * What tenants cost at intake: Spillway with a keys file and a tenant whose rate and backlog are
 * checked on every submission, against Spillway without, in the same run (target: within 5%).
 */
function tenantCost(enqueue: EnqueueRow[]): string[] {
  const best = (endpoint: 'single' | 'batch', system: string) =>
    Math.max(
      0,
      ...enqueue
        .filter((r) => r.endpoint === endpoint && r.system === system)
        .map((r) => r.tasksPerSec.median),
    );
  const lines: string[] = [];
  for (const endpoint of ['single', 'batch'] as const) {
    const on = best(endpoint, 'spillway-tenants');
    const off = best(endpoint, 'spillway');
    if (on === 0 || off === 0) continue;
    lines.push(
      `Tenants on, ${endpoint} endpoint (best of each): ${fmt(on)} tasks/s against ${fmt(off)} without, ` +
        `${(on / off).toFixed(2)}× (target ≥ 0.95×: ${verdict(on / off >= 0.95)}).`,
    );
  }
  return lines;
}

export function renderReport(results: Results): string {
  const { machine: m, options: o } = results;
  const enqueue = (endpoint: 'single' | 'batch') =>
    table(
      ['system', 'connections', 'tasks/s', 'p50 ms', 'p99 ms', 'failed requests'],
      results.enqueue
        .filter((r) => r.endpoint === endpoint)
        .map((r) => [
          r.system,
          String(r.concurrency),
          formatSummary(r.tasksPerSec),
          formatSummary(r.p50Ms, 1),
          formatSummary(r.p99Ms, 1),
          String(r.failures),
        ]),
    );
  const drain = table(
    ['system', 'tasks', 'worker concurrency', 'tasks/s'],
    results.drain.map((r) => [
      r.system,
      String(r.tasks),
      String(r.concurrency),
      formatSummary(r.tasksPerSec),
    ]),
  );
  const slow = table(
    [
      'system',
      'tasks',
      'concurrency',
      'worker tasks/s',
      'limit (concurrency / task time)',
      'of limit',
      'tasks/s from first submission',
      'of limit',
    ],
    results.slow.map((r) => [
      r.system,
      String(r.tasks),
      String(r.concurrency),
      formatSummary(r.tasksPerSec, 1),
      String(r.limitPerSec),
      `${((r.tasksPerSec.median / r.limitPerSec) * 100).toFixed(0)}%`,
      formatSummary(r.fromSubmissionPerSec, 1),
      `${((r.fromSubmissionPerSec.median / r.limitPerSec) * 100).toFixed(0)}%`,
    ]),
  );
  const ran = (name: ScenarioName, body: () => string) =>
    o.scenarios.includes(name) ? body() : `Not run this time (\`--only ${o.scenarios.join(',')}\`).`;
  const image = (alt: string, file: string | undefined) => (file ? `\n\n![${alt}](${file})` : '');
  const configuration = [
    ...BASE_CONFIGURATION(o),
    ...newConfiguration(o, results.ceilings),
    priorityConfiguration(o),
    noisyConfiguration(o),
    ...(o.scenarios.includes('listing') ? [listingConfiguration(o)] : []),
    ...(o.scenarios.includes('upkeep') ? [upkeepConfiguration(o)] : []),
  ];
  return `# Benchmarks

Generated by \`${commandOf(o)}\` at commit ${m.commit} on ${results.startedAt.toISOString()} in ${Math.round(results.seconds)} s.
${o.quick ? '\n**Quick mode**: tiny sizes, a smoke run; these figures mean nothing.\n' : ''}
Every figure is the median of ${o.repeats} run(s), with min–max in brackets when there is more than one.

## Headline

${headlines(results)
  .map((l) => `- ${l}`)
  .join('\n')}

## Against the issue's targets

${targets(results)
  .map((l) => `- ${l}`)
  .join('\n')}

## Machine

| | |
| --- | --- |
| CPU | ${m.cpus}, ${m.cores} cores |
| memory | ${m.memoryGiB} GiB |
| OS | ${m.os} |
| Node.js | ${m.node} |
| Kafka | ${m.kafka} (single KRaft node, local stack) |
| Redis | ${m.redis} (local stack) |
| packages | ${Object.entries(m.packages)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')} |

## Configuration

${configuration.map((l) => `- ${l}`).join('\n')}

## Enqueue, single endpoint (\`POST /v1/tasks\`)

${ran('enqueue', () => enqueue('single') + image('Enqueue throughput by connections and system', results.plots.enqueue))}

## Enqueue, batch endpoint (Spillway \`POST /v1/tasks/batch\`, BullMQ \`addBulk\`)

${ran('enqueue', () => enqueue('batch'))}

## Drain (pre-queued \`echo\` tasks, one worker process)

${ran('drain', () => drain)}

## Slow tasks

${ran('slow', () => slow)}

## End-to-end latency (submit to \`succeeded\`, at half of the max enqueue rate)

${ran('e2e', () => renderE2e(results.e2e, results.plots.e2e))}

## Priority (\`high\` tasks behind a \`low\` backlog, submit to start)

${ran('priority', () => renderPriority(results.priority))}

## Noisy neighbour (tenant A bursts, tenant B steady; Spillway with two tenants, BullMQ one queue)

${ran('noisy', () => renderNoisy(results.noisy, results.plots))}

## Burst (Spillway)

${ran('burst', () => renderBurst(results.burst))}

## Scale-out (Spillway, worker processes on one group)

${ran('scaleout', () => renderScaleOut(results.scaleOut, results.plots.scaleout))}

## Fan-out (1 parent → children → completion)

${ran('fanout', () => renderFanout(results.fanout))}

## Task listing (\`GET /v1/tasks\` over ${fmt(o.listingRecords)} records)

${ran('listing', () => renderListing(results.listing!))}

## Index upkeep (\`TASK_INDEXES\` on against off)

${ran('upkeep', () => renderUpkeep(results.upkeep!))}

## Ceilings (Kafka and Redis alone, same run)

${ran('ceilings', () => renderCeilings(results.ceilings!, results.drain, results.enqueue))}

## CPU per task

${o.scenarios.includes('enqueue') || o.scenarios.includes('drain') ? renderCpu(results.enqueue, results.drain, m.cores) : 'Not run this time (it reads the enqueue and drain runs).'}

## Profiles

${ran('profiles', () => renderProfiles(results.profiles!, results.enqueue, results.drain, o))}
`;
}

/** The configuration of the systems and of scenarios 1–3. */
const BASE_CONFIGURATION = (o: BenchOptions) => [
  `Every system runs in its own Node.js process (Spillway from the JavaScript in dist/, as its
  images run it; the others' TypeScript through tsx), the load generator (autocannon,
  programmatic) in the bench process; all traffic on 127.0.0.1, one machine.`,
  `**Spillway**: \`startApi\`/\`startWorker\` with \`loadApiConfig\`/\`loadWorkerConfig\` defaults
  (\`PUBLISH_LINGER_MS=2\`, \`PUBLISH_BATCH_MESSAGES=2000\`, acks=all), its own \`SPILLWAY_QUEUE\` per
  run, 6 partitions for enqueue, 1 for slow tasks; \`TASK_TTL_SECONDS=3600\`, \`LOG_LEVEL=warn\`.`,
  `**Bare Express**: the same \`express.json\` parsing, a handler that checks \`type\` and answers 202.`,
  `**Naive Kafka** (\`bench/naive/\`): \`SET\` status then one awaited \`producer.send\` per request
  (kafkajs defaults, acks=all); worker \`eachMessage\`, one message at a time, plain \`SET\`s.`,
  `**BullMQ**: \`queue.add\` (\`addBulk\` for a batch) behind the same Express app; BullMQ \`Worker\`.`,
  `Enqueue: \`{"type":"echo","payload":{"n":1}}\`, ${o.enqueueSeconds} s per run after a warm-up,
  connections ${o.concurrencies.join(', ')}; batches of ${o.batchSize} tasks; no worker running (intake only).`,
  `Drain: ${o.drainTasks} \`echo\` tasks queued through the batch endpoint before one worker process
  starts (concurrency 16, Spillway's default, for both); timed from the first finished task to the last.`,
  `Slow tasks: \`sleep\` ${o.slowTaskMs} ms tasks on one partition, submitted with the worker already in
  its group. The worker's rate is timed from the first task seen running to the last \`succeeded\`
  (the limit bounds the worker alone; progress is polled every 50 ms from the first submission on);
  the rate from the first submission also counts a fresh API process taking the tasks in. ${o.slowTasks} tasks for Spillway and BullMQ
  (concurrency ${o.slowConcurrency}), ${o.slowTasksSequential} for the sequential naive consumer
  (its rate is steady; 2,000 would take 200 s per run). Spillway and BullMQ are submitted in batches
  of 1,000, the naive design by 16 parallel clients.`,
];

/** The command that makes this report again: `npm run bench`, with the options this run had. */
function commandOf(o: BenchOptions): string {
  const args = [
    ...(o.quick ? ['--quick'] : []),
    ...(o.scenarios.length < SCENARIOS.length ? ['--only', o.scenarios.join(',')] : []),
    ...(o.out !== 'docs/benchmarks.md' ? ['--out', o.out] : []),
  ];
  return args.length === 0 ? 'npm run bench' : `npm run bench -- ${args.join(' ')}`;
}
