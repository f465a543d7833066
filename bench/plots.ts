import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { E2eRow } from './scenarios/e2e';
import type { EnqueueRow } from './scenarios/enqueue';
import { NOISY_P99_GOAL_MS, NOISY_P99_RATIO_GOAL, type NoisyRow, type NoisySystem } from './scenarios/noisy';
import type { ScaleRow } from './scenarios/scaleout';
import { barChart, lineChart, type Chart } from './svg';

export type PlotName = 'enqueue' | 'scaleout' | 'e2e' | 'noisy-spillway' | 'noisy-bullmq';

interface PlotInput {
  concurrencies: number[];
  enqueue: EnqueueRow[];
  e2e: E2eRow[];
  scaleOut: ScaleRow[];
  noisy: NoisyRow[];
}

const range = (s: { min: number; max: number }) => ({ min: s.min, max: s.max });
const LABELS: Record<string, string> = {
  spillway: 'Spillway',
  'spillway-tenants': 'Spillway, tenants on',
  'spillway-fair': 'Spillway',
  bare: 'bare Express',
  bullmq: 'BullMQ',
  naive: 'naive Kafka',
};
const labelOf = (system: string) => LABELS[system] ?? system;

function enqueueChart({ concurrencies, enqueue }: PlotInput): string | undefined {
  const single = enqueue.filter((r) => r.endpoint === 'single');
  if (single.length === 0) return undefined;
  const systems = [...new Set(single.map((r) => r.system))];
  const at = (s: string, c: number) => single.find((r) => r.system === s && r.concurrency === c);
  const chart: Chart = {
    title: 'Enqueue throughput, POST /v1/tasks (median, min–max)',
    xLabel: 'connections',
    yLabel: 'tasks/s',
    categories: concurrencies.map(String),
    series: systems.map((s) => ({
      name: labelOf(s),
      values: concurrencies.map((c) => at(s, c)?.tasksPerSec.median),
      ranges: concurrencies.map((c) => {
        const row = at(s, c);
        return row && range(row.tasksPerSec);
      }),
    })),
  };
  return barChart(chart);
}

function scaleOutChart({ scaleOut }: PlotInput): string | undefined {
  if (scaleOut.length === 0) return undefined;
  const one = scaleOut[0]!;
  return lineChart({
    title: 'Scale-out: drain rate by worker processes (median, min–max)',
    xLabel: 'worker processes',
    yLabel: 'tasks/s',
    categories: scaleOut.map((r) => String(r.workers)),
    xValues: scaleOut.map((r) => r.workers),
    series: [
      {
        name: 'Spillway',
        values: scaleOut.map((r) => r.tasksPerSec.median),
        ranges: scaleOut.map((r) => range(r.tasksPerSec)),
      },
      {
        name: 'linear from 1 worker',
        values: scaleOut.map((r) => (one.tasksPerSec.median * r.workers) / one.workers),
        dashed: true,
      },
      { name: 'limit', values: scaleOut.map((r) => r.limitPerSec), dashed: true },
    ],
  });
}

function e2eChart({ e2e }: PlotInput): string | undefined {
  if (e2e.length === 0) return undefined;
  return barChart({
    title: 'End-to-end latency at half of max rate (median, min–max)',
    xLabel: 'system',
    yLabel: 'ms from submit to succeeded',
    categories: e2e.map((r) => labelOf(r.system)),
    series: [
      { name: 'p50', values: e2e.map((r) => r.p50Ms.median), ranges: e2e.map((r) => range(r.p50Ms)) },
      { name: 'p99', values: e2e.map((r) => r.p99Ms.median), ranges: e2e.map((r) => range(r.p99Ms)) },
    ],
  });
}

/** Bins of B's timeline: at least about 60 across the run, none under 200 ms (10 tasks at 50/s). */
const binMsFor = (spanMs: number) =>
  [200, 250, 500, 1000, 2000, 5000].find((ms) => ms >= spanMs / 60) ?? 10_000;
/** Seconds between x-axis labels: about 10 of them, each a multiple of every bin size. */
const labelMsFor = (spanMs: number) =>
  [1000, 2000, 5000, 10_000, 20_000].find((ms) => ms >= spanMs / 10) ?? 60_000;

/**
 * One system's noisy-neighbour run (the one with the median p99 during the burst): B's start
 * latency by submission time, the highest in each bin, A's burst shaded, and B's p99 alone and
 * the goal beside it. One chart per system: their scales may differ by orders of magnitude.
 */
function noisyChart(system: NoisySystem): (input: PlotInput) => string | undefined {
  return ({ noisy }) => {
    const row = noisy.find((r) => r.system === system);
    if (!row || row.timeline.points.length === 0) return undefined;
    const { points, burstFromMs, burstToMs, aloneP99Ms } = row.timeline;
    const span = Math.max(...points.map((p) => p.atMs), burstToMs);
    const binMs = binMsFor(span);
    const bins: (number | undefined)[] = Array.from(
      { length: Math.floor(span / binMs) + 1 },
      () => undefined,
    );
    for (const { atMs, latencyMs } of points) {
      const i = Math.floor(atMs / binMs);
      bins[i] = Math.max(bins[i] ?? 0, latencyMs);
    }
    // Each bin at its start, so the labels fall on whole seconds.
    const seconds = bins.map((_, i) => (i * binMs) / 1000);
    const labelMs = labelMsFor(span);
    const goal = Math.min(NOISY_P99_RATIO_GOAL * aloneP99Ms, NOISY_P99_GOAL_MS);
    return lineChart({
      title: `Noisy neighbour, ${labelOf(system)}: B's start latency, A's ${row.burstTasks.toLocaleString('en-US')}-task burst shaded`,
      xLabel: "s since B's stream started (by submission time)",
      yLabel: 'ms from submit to start',
      categories: bins.map((_, i) => ((i * binMs) % labelMs === 0 ? String((i * binMs) / 1000) : '')),
      xValues: seconds,
      markers: false,
      band: { from: burstFromMs / 1000, to: burstToMs / 1000, name: "A's burst" },
      series: [
        { name: `B, max per ${binMs} ms`, values: bins },
        { name: 'B p99 alone', values: bins.map(() => aloneP99Ms), dashed: true },
        { name: 'goal', values: bins.map(() => goal), dashed: true },
      ],
    });
  };
}

const charts: Record<PlotName, (input: PlotInput) => string | undefined> = {
  enqueue: enqueueChart,
  scaleout: scaleOutChart,
  e2e: e2eChart,
  'noisy-spillway': noisyChart('spillway-fair'),
  'noisy-bullmq': noisyChart('bullmq'),
};

/**
 * Writes each chart the results can draw beside the report (docs/benchmarks.md gets
 * docs/benchmarks-enqueue.svg, ...); returns their names relative to the report, for its links.
 */
export function writePlots(out: string, input: PlotInput): Partial<Record<PlotName, string>> {
  const base = path.basename(out, path.extname(out));
  const written: Partial<Record<PlotName, string>> = {};
  for (const [name, draw] of Object.entries(charts) as [PlotName, (i: PlotInput) => string | undefined][]) {
    const svg = draw(input);
    if (!svg) continue;
    const file = `${base}-${name}.svg`;
    writeFileSync(path.join(path.dirname(out), file), svg);
    written[name] = file;
  }
  return written;
}
