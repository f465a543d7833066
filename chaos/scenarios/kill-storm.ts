import { setTimeout as sleep } from 'node:timers/promises';
import { metricSum } from '../metrics';
import type { RunEvent } from '../runs';
import type { Figure, ScenarioContext } from '../scenario';
import type { ServiceProcess } from '../service';

/** One worker killed with SIGKILL: which, and how many tasks it had in flight (NaN: unknown). */
export interface Kill {
  name: string;
  pid: number;
  inFlight: number;
  at: number;
  /** When its replacement answered /readyz 200 (unset while it has not). */
  replacedReadyAt?: number;
}

/**
 * `kill -9` of a worker, replaced at once by a new process, as a Deployment's ReplicaSet would.
 * Retired first, so the deployment does not take its exit for a crash to report.
 */
export async function killWorker(ctx: ScenarioContext, victim: ServiceProcess, kills: Kill[]): Promise<Kill> {
  const inFlight = await metricSum(victim.url, 'spillway_tasks_in_flight', {}, 1000);
  ctx.deployment.retire(victim);
  await victim.kill();
  const kill: Kill = { name: victim.name, pid: victim.pid, inFlight, at: Date.now() };
  kills.push(kill);
  const replacement = await ctx.deployment.startWorker();
  // Timed here, not when the scenario gets round to waiting for it.
  replacement.ready(120_000).then(
    () => (kill.replacedReadyAt = Date.now()),
    () => undefined,
  );
  return kill;
}

const describeKill = (victim: ServiceProcess, kill: Kill) =>
  `kill -9 ${victim.name} (partitions ${victim.partitions || 'none'}, ` +
  `${Number.isNaN(kill.inFlight) ? '?' : kill.inFlight} tasks in flight)`;

/**
 * Kills the oldest worker every `everyMs` for `durationMs` (options.workerKill), then waits for
 * every replacement to be ready. The oldest: replacements get a few seconds to join before their
 * turn comes.
 */
export async function killStorm(ctx: ScenarioContext, kills: Kill[]): Promise<void> {
  const { durationMs, everyMs } = ctx.options.workerKill;
  const start = Date.now();
  for (let i = 1; i <= Math.floor(durationMs / everyMs); i++) {
    // On a fixed schedule: a slow step does not push the next kill back.
    await sleep(Math.max(0, start + i * everyMs - Date.now()));
    const victim = ctx.deployment.workers[0];
    if (!victim) continue;
    ctx.mark(describeKill(victim, await killWorker(ctx, victim, kills)));
  }
}

/** Waits for every worker of the deployment to be ready; the figures of a storm's kills. */
export async function replacementsReady(ctx: ScenarioContext, kills: Kill[]): Promise<void> {
  await Promise.all(ctx.deployment.workers.map((w) => ctx.deployment.readyOrReplaced(w)));
  ctx.mark('every replacement ready');
  const lastKill = Math.max(...kills.map((k) => k.at));
  const lastReady = Math.max(...kills.map((k) => k.replacedReadyAt ?? Date.now()));
  ctx.figures.push(
    { label: 'workers killed with SIGKILL', value: kills.length },
    {
      label: 'tasks in flight on the killed workers (sum)',
      value: kills.reduce((sum, k) => sum + (Number.isNaN(k.inFlight) ? 0 : k.inFlight), 0),
    },
    {
      label: 'last replacement ready after the last kill',
      value: kills.length > 0 ? `${((lastReady - lastKill) / 1000).toFixed(1)} s` : 'n/a',
    },
  );
}

/** Runs cut short by a kill: a `start` in a killed process without its `done` there. */
export function runsCutShort(runs: Map<string, RunEvent[]>, kills: Kill[]): number {
  const killed = new Set(kills.map((k) => k.pid));
  let cut = 0;
  for (const events of runs.values()) {
    for (const start of events.filter((e) => e.event === 'start' && killed.has(e.pid))) {
      if (!events.some((e) => e.event === 'done' && e.pid === start.pid && e.at >= start.at)) cut++;
    }
  }
  return cut;
}

/**
 * Handler runs of one attempt that started again without a cause the README allows: the earlier
 * run's worker was killed, or the consumer group rebalanced (a partition moved) between the two
 * starts. A retry is a new attempt, not a re-run. Returns a description of each, empty when none.
 */
export function unexplainedReruns(events: RunEvent[], killedPids: Set<number>, joins: number[]): string[] {
  const starts = events.filter((e) => e.event === 'start');
  const out: string[] = [];
  for (const [i, later] of starts.entries()) {
    const earlier = starts.slice(0, i).findLast((e) => e.attempt === later.attempt);
    if (!earlier || killedPids.has(earlier.pid)) continue;
    if (joins.some((at) => at >= earlier.at && at <= later.at)) continue;
    out.push(
      `${later.taskId} attempt ${later.attempt}: started in ${earlier.pid} at ${earlier.at}, again in ${later.pid} at ${later.at}`,
    );
  }
  return out;
}

export const killFigures = (cut: number, duplicates: number): Figure[] => [
  { label: 'handler runs cut short by a kill', value: cut },
  { label: 'succeeded tasks whose handler finished twice (in flight at a kill)', value: duplicates },
];
