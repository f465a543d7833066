import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { E2eRow } from './scenarios/e2e';
import type { EnqueueRow } from './scenarios/enqueue';
import type { ScaleRow } from './scenarios/scaleout';
import { barChart, lineChart, type Chart } from './svg';

export type PlotName = 'enqueue' | 'scaleout' | 'e2e';

interface PlotInput {
  concurrencies: number[];
  enqueue: EnqueueRow[];
  e2e: E2eRow[];
  scaleOut: ScaleRow[];
}

const range = (s: { min: number; max: number }) => ({ min: s.min, max: s.max });
const LABELS: Record<string, string> = {
  spillway: 'Spillway',
  'spillway-tenants': 'Spillway, tenants on',
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

const charts: Record<PlotName, (input: PlotInput) => string | undefined> = {
  enqueue: enqueueChart,
  scaleout: scaleOutChart,
  e2e: e2eChart,
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
