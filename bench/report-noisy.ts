/** The report's noisy-neighbour section, headline, target and configuration; report.ts puts them in. */
import { fmt, table } from './markdown';
import type { BenchOptions } from './options';
import type { PlotName } from './plots';
import {
  NOISY_DRAIN_RATIO_GOAL,
  NOISY_P99_GOAL_MS,
  NOISY_P99_RATIO_GOAL,
  type NoisyRow,
} from './scenarios/noisy';
import { NOISY_SPILL } from './systems/types';
import { formatSummary } from './stats';

const verdict = (met: boolean) => (met ? 'met' : '**not met**');
const spillOf = (r: NoisyRow) =>
  r.spill ? `${fmt(r.spill.rate)}/s, burst ${fmt(r.spill.burst)}` : r.system === 'bullmq' ? 'n/a' : 'off';

/** B's goal (p99 during the burst ≤ 2× alone and < 1 s) and A's (drain ≥ 0.9× alone), on this run's medians. */
function goals(r: NoisyRow): { b: boolean; a: boolean } {
  return {
    b: r.p99Ratio.median <= NOISY_P99_RATIO_GOAL && r.burstP99Ms.median < NOISY_P99_GOAL_MS,
    a: r.drainRatio.median >= NOISY_DRAIN_RATIO_GOAL,
  };
}

const nameOf = (r: NoisyRow) => (r.system === 'spillway-fair' ? 'Spillway' : 'BullMQ');

export function renderNoisy(rows: NoisyRow[], plots: Partial<Record<PlotName, string>>): string {
  const b = table(
    [
      'system',
      'spill allowance',
      'B started / accepted, all runs',
      'B p50 alone ms',
      'B p99 alone ms',
      'B tasks in burst',
      'B p50 in burst ms',
      'B p99 in burst ms',
      'B max in burst ms',
      'p99 in burst / alone',
      'of which submit answered, p99 alone / in burst ms',
      'B failed submissions',
    ],
    rows.map((r) => [
      r.system,
      spillOf(r),
      `${r.aloneStarted + r.burstStarted} / ${r.aloneAccepted + r.burstAccepted}`,
      formatSummary(r.aloneP50Ms),
      formatSummary(r.aloneP99Ms),
      formatSummary(r.inBurst),
      formatSummary(r.burstP50Ms),
      formatSummary(r.burstP99Ms),
      formatSummary(r.burstMaxMs),
      `${formatSummary(r.p99Ratio, 2)}×`,
      `${fmt(r.aloneAnswerP99Ms.median)} / ${fmt(r.burstAnswerP99Ms.median)}`,
      String(r.failures),
    ]),
  );
  const a = table(
    [
      'system',
      'A tasks',
      'A finished / accepted beside B, all runs',
      'A drain alone tasks/s',
      'A drain beside B tasks/s',
      'beside B / alone',
      'A batches retried',
    ],
    rows.map((r) => [
      r.system,
      fmt(r.burstTasks),
      `${r.aFinished} / ${r.aAccepted}`,
      formatSummary(r.aloneDrainPerSec),
      formatSummary(r.withBDrainPerSec),
      `${formatSummary(r.drainRatio, 2)}×`,
      String(r.aRetried),
    ]),
  );
  const lines = rows.map((r) => {
    const met = goals(r);
    return (
      `- ${nameOf(r)}: B's p99 ${fmt(r.burstP99Ms.median)} ms during the burst against ${fmt(r.aloneP99Ms.median)} ms ` +
      `alone, ${r.p99Ratio.median.toFixed(2)}× (goal ≤ ${NOISY_P99_RATIO_GOAL}× and < ${fmt(NOISY_P99_GOAL_MS)} ms: ` +
      `${verdict(met.b)}); A drained at ${r.drainRatio.median.toFixed(2)}× its rate alone (goal ≥ ` +
      `${NOISY_DRAIN_RATIO_GOAL}×: ${verdict(met.a)}).`
    );
  });
  const images = [
    ['noisy-spillway', "Spillway: B's start latency during A's burst"],
    ['noisy-bullmq', "BullMQ: B's start latency during A's burst"],
  ] as const;
  const pictures = images
    .filter(([name]) => plots[name])
    .map(([name, alt]) => `![${alt}](${plots[name]})`)
    .join('\n\n');
  return [
    '### Tenant B, steady, alone and during the burst (submit to start)',
    b,
    "### Tenant A's burst, alone and beside B (first submission to last finish)",
    a,
    lines.join('\n'),
    ...(pictures ? [pictures] : []),
  ].join('\n\n');
}

export function noisyHeadline(rows: NoisyRow[]): string[] {
  if (rows.length === 0) return [];
  const each = rows.map(
    (r) =>
      `${nameOf(r)} B p99 ${fmt(r.aloneP99Ms.median)} → ${fmt(r.burstP99Ms.median)} ms ` +
      `(${r.p99Ratio.median.toFixed(2)}×), A drain ${r.drainRatio.median.toFixed(2)}× alone`,
  );
  return [`noisy neighbour (A bursts ${fmt(rows[0]!.burstTasks)}, B steady): ${each.join('; ')}`];
}

export function noisyTarget(rows: NoisyRow[]): string[] {
  const row = rows.find((r) => r.system === 'spillway-fair');
  if (!row) return [];
  const met = goals(row);
  const bull = rows.find((r) => r.system === 'bullmq');
  return [
    `Noisy neighbour (spill allowance ${spillOf(row)}): B's p99 during A's ${fmt(row.burstTasks)}-task burst ` +
      `${fmt(row.burstP99Ms.median)} ms, ${row.p99Ratio.median.toFixed(2)}× its ${fmt(row.aloneP99Ms.median)} ms ` +
      `alone (target ≤ ${NOISY_P99_RATIO_GOAL}× and < 1 s: ${verdict(met.b)}); A drained at ` +
      `${row.drainRatio.median.toFixed(2)}× its rate alone (target ≥ ${NOISY_DRAIN_RATIO_GOAL}×: ${verdict(met.a)})` +
      (bull
        ? `; BullMQ, one queue: ${fmt(bull.burstP99Ms.median)} ms (${bull.p99Ratio.median.toFixed(2)}×), ` +
          `${bull.drainRatio.median.toFixed(2)}×.`
        : '.'),
  ];
}

export const noisyConfiguration = (o: BenchOptions) =>
  `Noisy neighbour: per system and run one API and one worker process (concurrency 16) on a fresh ` +
  `queue, three phases. (a) Tenant B alone: \`sleep\` ${o.noisyTaskMs} ms tasks one per \`POST /v1/tasks\`, ` +
  `open-loop at ${o.noisyRatePerSec}/s for ${o.noisyBaselineSeconds} s after 1 s not counted. (b) Tenant A ` +
  `alone: ${fmt(o.noisyBurstTasks)} \`echo\` tasks through the batch endpoint (1,000 per request, ` +
  `${o.noisyBurstClients} in flight), its drain rate counted from its first request to its last task's ` +
  `finish. (c) B's stream again, A's burst 1 s later, and B until 1 s after the burst has drained. B's ` +
  `figures: from the start of a task's submit request to its start (Spillway's \`startedAt\`, BullMQ's ` +
  `\`job.processedOn\`); "in burst" counts B's tasks submitted between A's first request and its last ` +
  `finish (Spillway's \`finishedAt\`, BullMQ's \`job.finishedOn\`). Spillway: two tenants of one keys file, ` +
  `\`a\` and \`b\`, no limits of their own; spill allowance ${NOISY_SPILL ? `\`spill-rate=${NOISY_SPILL.rate} spill-burst=${NOISY_SPILL.burst}\` for both` : 'off (no `spill-` setting; `NOISY_SPILL` in bench/systems/types.ts or `BENCH_NOISY_SPILL=<rate>,<burst>` turns it on)'}. ` +
  `BullMQ: one queue for both, the tenant a tag in the payload. The plots show the run with the median ` +
  `p99 during the burst.`;
