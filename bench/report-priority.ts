/** The report's priority section, headline, target and configuration; report.ts puts them in. */
import { fmt, ratio, table } from './markdown';
import type { BenchOptions } from './options';
import type { PriorityRow } from './scenarios/priority';
import { formatSummary } from './stats';

/** The goal: a `high` task behind a `low` backlog starts within this, at p99. */
export const PRIORITY_GOAL_MS = 1000;

const p99 = (rows: PriorityRow[], system: string) => rows.find((r) => r.system === system)?.p99Ms.median;

export function renderPriority(rows: PriorityRow[]): string {
  const spillway = p99(rows, 'spillway');
  const goal =
    spillway === undefined
      ? ''
      : `\n\nThe goal, \`high\` tasks starting within ${fmt(PRIORITY_GOAL_MS)} ms at p99 behind the backlog, is ` +
        `${spillway < PRIORITY_GOAL_MS ? 'met' : '**not met**'} by Spillway: p99 ${fmt(spillway)} ms against ` +
        `BullMQ's ${fmt(p99(rows, 'bullmq') ?? NaN)} ms (${ratio(spillway, p99(rows, 'bullmq'))}).`;
  return (
    table(
      [
        'system',
        'low backlog',
        'high rate',
        'high started / accepted',
        'p50 ms',
        'p99 ms',
        'max ms',
        'low run in window',
        'low left at end',
        'failed submissions',
      ],
      rows.map((r) => [
        r.system,
        fmt(r.lowTasks),
        `${fmt(r.ratePerSec)}/s`,
        `${r.highStarted} / ${r.highAccepted}`,
        formatSummary(r.p50Ms),
        formatSummary(r.p99Ms),
        formatSummary(r.maxMs),
        formatSummary(r.lowRun),
        formatSummary(r.lowLeft),
        String(r.failures),
      ]),
    ) + goal
  );
}

export function priorityHeadline(rows: PriorityRow[]): string[] {
  if (rows.length === 0) return [];
  const each = rows.map((r) => `${r.system} p50 ${fmt(r.p50Ms.median)} ms / p99 ${fmt(r.p99Ms.median)} ms`);
  return [
    `priority: high tasks behind ${fmt(rows[0]!.lowTasks)} low ones start in ${each.join(', ')} ` +
      `(Spillway's p99 ${ratio(p99(rows, 'spillway'), p99(rows, 'bullmq'))} BullMQ's)`,
  ];
}

export function priorityTarget(rows: PriorityRow[]): string[] {
  const row = rows.find((r) => r.system === 'spillway');
  if (!row) return [];
  const met = row.p99Ms.median < PRIORITY_GOAL_MS;
  return [
    `Priority: \`high\` tasks at ${row.ratePerSec}/s behind ${fmt(row.lowTasks)} \`low\` ones start within ` +
      `${fmt(row.p99Ms.median)} ms at p99 (target < 1 s: ${met ? 'met' : '**not met**'}), ` +
      `${fmt(row.lowLeft.median)} \`low\` tasks still waiting at the end of the window.`,
  ];
}

export const priorityConfiguration = (o: BenchOptions) =>
  `Priority: ${fmt(o.priorityLowTasks)} \`low\` \`sleep\` ${o.priorityLowTaskMs} ms tasks queued through the ` +
  `batch endpoint (1,000 per request, 4 in flight) with no worker running; then one worker process ` +
  `(concurrency 16; Spillway's lane weights at their default 6:3:1) and, once it is ready, \`high\` \`echo\` ` +
  `tasks one per \`POST /v1/tasks\`, open-loop at ${o.priorityRatePerSec}/s for ${o.prioritySeconds} s. Per ` +
  `\`high\` task, from the start of its submit request to its start: Spillway's \`startedAt\` on the task ` +
  `record, BullMQ's \`job.processedOn\`. BullMQ gets job priorities 1 (\`high\`), 2 (\`normal\`), 3 (\`low\`) ` +
  `on every job (a job without one would run before all prioritized jobs). The \`low\` figures are read ` +
  `from the \`low\` tasks' own start times afterwards: started between the first and the last \`high\` ` +
  `request, and not started by the last.`;
