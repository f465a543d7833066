import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fmt, table } from '../../../bench/markdown';
import { lineChart } from '../../../bench/svg';
import type { TaskRecord } from '../../../services/shared/task';
import { lastFinished, stalls, type Burst } from './burst';
import { ROOT } from './cluster';
import type { Sample } from './timeline';
import type { Rejoin } from './worker-logs';

/** One burst as the report tells it. */
export interface Run {
  name: 'autoscaled' | 'fixed' | 'faults';
  burst: Burst;
  records: TaskRecord[];
  /** From the reconciliation: tasks whose handler finished more than once, and tasks not succeeded. */
  ranTwice: number;
  notSucceeded: number;
  samples: Sample[];
  rejoins: Rejoin[];
  /** What the test did to the fleet, and when (epoch ms). */
  events: { at: number; what: string }[];
}

export interface Setup {
  taskMs: number;
  lagThreshold: number;
  maxWorkers: number;
  autoscaling: { minReplicaCount: number; pollingInterval: number; behavior: object };
}

/** Where the report goes: SPILLWAY_K8S_REPORT (docs/kubernetes.md for the committed one), else .stack. */
export function reportPath(): string {
  return process.env.SPILLWAY_K8S_REPORT ?? join(ROOT, '.stack', 'cluster', 'kubernetes.md');
}

const seconds = (ms: number) => fmt(ms / 1000, 1);
/** Seconds from the burst's first submission until the first sample that satisfies `test`. */
function firstAfter(
  run: Run,
  test: (s: Sample) => boolean,
  from = run.burst.submittedFrom,
): number | undefined {
  const hit = run.samples.find((s) => s.at >= from && test(s));
  return hit && hit.at - run.burst.submittedFrom;
}

/** A step series on a fixed grid: each point is the last sample at or before it. */
function onGrid(run: Run, pick: (s: Sample) => number, grid: number[]): (number | undefined)[] {
  return grid.map((t) => {
    const at = run.burst.submittedFrom + t * 1000;
    const last = run.samples.filter((s) => s.at <= at).at(-1);
    return last && pick(last);
  });
}

function chart(title: string, yLabel: string, runsAndPicks: [string, Run, (s: Sample) => number][]): string {
  const end = Math.max(
    ...runsAndPicks.map(([, run]) => (run.samples.at(-1)!.at - run.burst.submittedFrom) / 1000),
  );
  const grid = Array.from({ length: Math.ceil(end) + 1 }, (_, i) => i);
  return lineChart({
    title,
    xLabel: 'seconds since the burst started',
    yLabel,
    categories: grid.map((t) => (t % 30 === 0 ? String(t) : '')),
    xValues: grid,
    markers: false,
    series: runsAndPicks.map(([name, run, pick]) => ({ name, values: onGrid(run, pick, grid) })),
  });
}

/**
 * Rejoins during the burst that happened together (one rebalance of the group), with the
 * longest stop among them.
 */
function rebalances(run: Run): { at: number; members: number; longestMs: number }[] {
  const groups: Rejoin[][] = [];
  const during = (j: Rejoin) => j.rebalanceMs !== undefined && j.at >= run.burst.submittedFrom;
  for (const r of run.rejoins.filter(during)) {
    const last = groups.at(-1);
    if (last && r.at - last[0]!.at < 3000) last.push(r);
    else groups.push([r]);
  }
  return groups.map((g) => ({
    at: g[0]!.at,
    members: g.length,
    longestMs: Math.max(...g.map((r) => r.rebalanceMs!)),
  }));
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return dirty.trim() ? `${head} with uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

export async function writeReport(runs: Run[], setup: Setup): Promise<string> {
  const path = reportPath();
  mkdirSync(dirname(path), { recursive: true });
  const auto = runs.find((r) => r.name === 'autoscaled')!;
  const fixed = runs.find((r) => r.name === 'fixed')!;
  const faults = runs.find((r) => r.name === 'faults');
  const drain = (run: Run) => lastFinished(run.records) - run.burst.submittedFrom;
  const min = setup.autoscaling.minReplicaCount;
  const crossed = firstAfter(auto, (s) => s.lag > setup.lagThreshold * min);
  const firstNew = firstAfter(auto, (s) => s.ready > min);
  const atMax = firstAfter(auto, (s) => s.ready >= setup.maxWorkers);
  const drained = firstAfter(auto, (s) => s.lag === 0, auto.burst.submittedUntil);
  const scaledDown =
    drained === undefined
      ? undefined
      : firstAfter(auto, (s) => s.desired <= min, auto.burst.submittedFrom + drained);
  const plots = {
    lag: `${basename(path, '.md')}-lag.svg`,
    replicas: `${basename(path, '.md')}-replicas.svg`,
    faults: `${basename(path, '.md')}-faults.svg`,
  };
  writeFileSync(
    join(dirname(path), plots.lag),
    chart('Lag during the burst', 'uncommitted tasks', [
      ['KEDA from 1 worker', auto, (s) => s.lag],
      [`fixed at ${setup.maxWorkers}`, fixed, (s) => s.lag],
    ]),
  );
  writeFileSync(
    join(dirname(path), plots.replicas),
    chart('Workers while KEDA scales', 'workers', [
      ['desired', auto, (s) => s.desired],
      ['ready', auto, (s) => s.ready],
    ]),
  );
  if (faults) {
    writeFileSync(
      join(dirname(path), plots.faults),
      chart('Workers during a pod deletion and a rolling upgrade', 'workers', [
        ['desired', faults, (s) => s.desired],
        ['ready', faults, (s) => s.ready],
      ]),
    );
  }

  // Tasks that all take as long start in waves a task's length apart: a stall is a gap longer than two.
  const minStall = (2 * setup.taskMs) / 1000;
  const stallRows = (run: Run) =>
    stalls(run.records, minStall).map((s) => [
      run.name,
      seconds(s.from - run.burst.submittedFrom),
      fmt(s.seconds, 2),
    ]);
  const lines = [
    '# Spillway on Kubernetes: a burst, scaled by KEDA',
    '',
    `Written by \`tests/k8s/burst.test.ts\` (\`npm run test:k8s\`, SPILLWAY_K8S_REPORT=${'docs/kubernetes.md'}) on ${new Date().toISOString()},`,
    `at commit ${commit()}, on the local cluster of \`npm run cluster:up\`: ${os.cpus().length} cores,`,
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}. Everything ran on this one machine:`,
    'control plane, kubelet, KEDA, Kafka and every pod, so the scaling below competes with them for',
    'the same cores.',
    '',
    `**The burst**: ${fmt(auto.burst.ids.length)} tasks of ${setup.taskMs} ms (\`counted\`, which sleeps and counts its`,
    `run), submitted in ${seconds(auto.burst.submittedUntil - auto.burst.submittedFrom)} s through the API's Service. One worker runs 16 at once:`,
    `${fmt((16 * 1000) / setup.taskMs)} tasks/s per worker, ${fmt((16 * 1000 * setup.maxWorkers) / setup.taskMs)} with ${setup.maxWorkers}.`,
    `KEDA: lagThreshold ${setup.lagThreshold}, pollingInterval ${setup.autoscaling.pollingInterval} s, ${min} to ${setup.maxWorkers} workers; the HPA syncs every 15 s`,
    `(the Kubernetes default); HPA behavior: \`${JSON.stringify(setup.autoscaling.behavior)}\` over the chart's default scale-up.`,
    '',
    '## Scaling',
    '',
    table(
      ['', 'seconds after the first submission'],
      [
        [
          `lag above ${setup.lagThreshold} (one worker's threshold)`,
          crossed === undefined ? '-' : seconds(crossed),
        ],
        ['first new worker Ready', firstNew === undefined ? '-' : seconds(firstNew)],
        [`${setup.maxWorkers} workers Ready (the maximum)`, atMax === undefined ? '-' : seconds(atMax)],
        ['lag back to 0', drained === undefined ? '-' : seconds(drained)],
        [`back to ${min} worker(s)`, scaledDown === undefined ? '-' : seconds(scaledDown)],
      ],
    ),
    '',
    table(
      [
        'burst',
        'tasks',
        'drain (first submission → last task finished)',
        'peak lag',
        'ran twice',
        'not succeeded',
      ],
      runs.map((run) => [
        run.name,
        fmt(run.burst.ids.length),
        `${seconds(drain(run))} s`,
        fmt(Math.max(...run.samples.map((s) => s.lag))),
        fmt(run.ranTwice),
        fmt(run.notSucceeded),
      ]),
    ),
    '',
    `Autoscaled from ${min} worker the burst drained in **${fmt(drain(auto) / drain(fixed), 2)}×** the time of a fleet fixed at ${setup.maxWorkers} from the start.`,
    '',
    `![lag](${plots.lag})`,
    '',
    `![workers](${plots.replicas})`,
    '',
    '## What each scale step stops',
    '',
    'kafkajs rebalances eagerly: when a worker joins or leaves, every member stops fetching until the',
    'whole group has rejoined. Each worker logs how long its fetching stopped (`rebalanceMs` on',
    '"joined consumer group", and `spillway_consumer_rebalance_seconds`):',
    '',
    table(
      ['burst', 'rebalance at (s)', 'members rejoined', 'longest stop (s)'],
      runs.flatMap((run) =>
        rebalances(run).map((r) => [
          run.name,
          seconds(r.at - run.burst.submittedFrom),
          String(r.members),
          fmt(r.longestMs / 1000, 2),
        ]),
      ),
    ),
    '',
    `Fleet-wide, the gaps in which no task started anywhere, longer than two tasks' length (${fmt(minStall, 1)} s):`,
    '',
    table(['burst', 'gap from (s)', 'seconds'], runs.flatMap(stallRows)),
    '',
  ];
  if (faults) {
    lines.push(
      '## Faults mid-burst',
      '',
      `${fmt(faults.burst.ids.length)} tasks: ${fmt(faults.burst.ids.length - faults.notSucceeded)} succeeded, ${fmt(faults.ranTwice)} ran twice.`,
      '',
      table(
        ['at (s)', 'what'],
        faults.events.map((e) => [seconds(e.at - faults.burst.submittedFrom), e.what]),
      ),
      '',
      `Drained in ${seconds(drain(faults))} s. ![workers](${plots.faults})`,
      '',
    );
  }
  // Formatted as the repository's Markdown is, so a committed report passes `npm run lint`. Prettier runs
  // as its own process: in jest's CommonJS sandbox its lazy parser import() fails without
  // --experimental-vm-modules.
  writeFileSync(path, lines.join('\n'));
  execFileSync(
    join(ROOT, 'node_modules', '.bin', 'prettier'),
    ['--write', '--ignore-path', '/dev/null', '--parser', 'markdown', path],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return path;
}
