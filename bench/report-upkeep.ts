/** The report's index-upkeep section, headline, target and configuration; report.ts puts them in. */
import { MAX_TRANSITIONS_PER_CALL } from '../services/shared/redis/redis-task-store';
import { fmt, table } from './markdown';
import type { BenchOptions } from './options';
import type { CpuOnOff, OnOff, UpkeepResult } from './scenarios/upkeep';
import { formatSummary } from './stats';

/** The goal: with indexes on, each rate at least this share of the rate without. */
export const UPKEEP_GOAL = 0.95;

const ratioOf = (f: OnOff) => f.on.median / f.off.median;
const verdict = (f: OnOff) => (ratioOf(f) >= UPKEEP_GOAL ? 'met' : '**not met**');

interface Line {
  path: string;
  /** For the headline. */
  short: string;
  figure: string;
  value: OnOff;
  /** A rate (the goal applies) or a cost (µs per task: reported, no goal). */
  rate: boolean;
  digits?: number;
}

/** Every figure of the scenario, in the order the report lists them. */
function lines(r: UpkeepResult): Line[] {
  const out: Line[] = [];
  for (const step of r.redis.steps) {
    out.push({
      path: 'Redis alone',
      short: `Redis ${step.status}`,
      figure: `${step.status} transitions/s`,
      value: step,
      rate: true,
    });
  }
  if (r.redis.tasksPerSec) {
    out.push({
      path: 'Redis alone',
      short: 'Redis per task',
      figure: 'tasks/s (all three)',
      value: r.redis.tasksPerSec,
      rate: true,
    });
  }
  const cpu = (path: string, c: CpuOnOff, own: string) => {
    if (c.own) out.push({ path, short: '', figure: `${own} µs per task`, value: c.own, rate: false });
    if (c.Redis) out.push({ path, short: '', figure: 'Redis µs per task', value: c.Redis, rate: false });
  };
  for (const s of r.submit) {
    const path =
      s.endpoint === 'single'
        ? `submit, \`POST /v1/tasks\`, ${s.connections} connections`
        : `submit, \`POST /v1/tasks/batch\` of ${s.perRequest}, ${s.connections} connections`;
    out.push({ path, short: `submit ${s.endpoint}`, figure: 'tasks/s', value: s.tasksPerSec, rate: true });
    cpu(path, s.cpu, 'API');
  }
  const drain = `drain, one worker, ${fmt(r.drain.tasks)} tasks`;
  out.push({ path: drain, short: 'drain', figure: 'tasks/s', value: r.drain.tasksPerSec, rate: true });
  cpu(drain, r.drain.cpu, 'worker');
  return out;
}

export function renderUpkeep(r: UpkeepResult): string {
  const body = table(
    ['path', 'figure', 'indexes on', 'indexes off', 'on / off', `goal ≥ ${UPKEEP_GOAL}×`],
    lines(r).map((l) => [
      l.path,
      l.figure,
      formatSummary(l.value.on, l.digits),
      formatSummary(l.value.off, l.digits),
      `${ratioOf(l.value).toFixed(2)}×`,
      l.rate ? verdict(l.value) : 'n/a (a cost)',
    ]),
  );
  const unavailable = r.redis.unavailable ? `\n\nRedis alone: not measured (${r.redis.unavailable}).` : '';
  const failures = r.submit.reduce((s, x) => s + x.failures, 0);
  return `${SHAPE(r)}\n\n${body}${unavailable}\n\nFailed submissions over every turn: ${failures}.`;
}

const SHAPE = (r: UpkeepResult) =>
  `What keeping the listing's indexes, totals and live events costs the paths every task takes: each figure with ` +
  `\`TASK_INDEXES=true\` (the default) and \`false\`, in alternating turns (on, off, on, off, …; ${r.turns} of each), ` +
  `the median of each side's turns and min–max in brackets; "on / off" divides the medians. A rate's goal is at ` +
  `least ${UPKEEP_GOAL}× the rate without indexes (at most ${Math.round((1 - UPKEEP_GOAL) * 100)}% cost). ` +
  `CPU per task comes from /proc, over each measured window; Redis is shared with other test runs, so its figure ` +
  `also holds theirs. Redis runs with its append-only file on (\`appendonly yes\`, fsync every second), as the ` +
  `local stack and the chart's Redis do: every write a script makes is also written to it.`;

export function upkeepHeadline(r: UpkeepResult | undefined): string[] {
  if (!r) return [];
  const rates = lines(r).filter((l) => l.rate);
  return [
    'index upkeep (on / off): ' +
      rates.map((l) => `${l.short} ${ratioOf(l.value).toFixed(2)}×`).join(', ') +
      ` (goal ≥ ${UPKEEP_GOAL}×)`,
  ];
}

export function upkeepTarget(r: UpkeepResult | undefined): string[] {
  if (!r) return [];
  return [
    `Index upkeep, rates with indexes on / off (goal ≥ ${UPKEEP_GOAL}×): ` +
      lines(r)
        .filter((l) => l.rate)
        .map(
          (l) =>
            `${l.path} ${l.figure} ${fmt(l.value.on.median)} against ${fmt(l.value.off.median)}, ` +
            `${ratioOf(l.value).toFixed(2)}× (${verdict(l.value)})`,
        )
        .join('; ') +
      '.',
  ];
}

export function upkeepConfiguration(o: BenchOptions): string {
  return (
    `Index upkeep: \`spillway\` against \`spillway-unindexed\` (\`TASK_INDEXES=false\` in its API and worker), ` +
    `${o.upkeepTurns} turn(s) each, alternating. (a) \`redis-benchmark -n ${o.upkeepRedisRequests} ` +
    `-r ${o.upkeepRedisRequests * MAX_TRANSITIONS_PER_CALL} -c 8 -P 16\` of the transition script as in the ceilings ` +
    `(${MAX_TRANSITIONS_PER_CALL} transitions per call from \`RedisTaskStore.callArgs\`), its indexing flag 1 or 0, ` +
    `a fresh queue's keys each turn; unlike the ceilings' \`-r\`, ids are drawn from ${MAX_TRANSITIONS_PER_CALL}× as many ` +
    `as there are calls, so most transitions create or move a record once, as a task's do (a repeat of the same ` +
    `status writes no index). (b) A fresh API process and queue per turn: warm-up, then ${o.upkeepSeconds} s of \`POST /v1/tasks\` at ` +
    `64 connections and ${o.upkeepSeconds} s of \`POST /v1/tasks/batch\` (${o.batchSize} tasks each) at 16. ` +
    `(c) ${fmt(o.upkeepDrainTasks)} \`echo\` tasks queued through the batch endpoint, then one worker process ` +
    `(concurrency 16), timed as the drain scenario times it.`
  );
}
