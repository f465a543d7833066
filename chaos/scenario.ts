import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosCluster } from './cluster';
import { chaosQueue, Deployment, type DeploymentOptions } from './deployment';
import { LoadGenerator, type LoadOptions } from './load';
import type { ChaosOptions } from './options';
import { reconcile, type Reconciliation } from './reconcile';
import { RssSampler, type RssSample } from './rss';
import { statusBreakdown } from './scenarios/common';
import { max, ms } from './stats';
import { StatusSampler, type StatusReport } from './statuses';

/**
 * A check a scenario makes. `guarantee`: something the README promises (the jest subset asserts
 * these); `timing`: a figure compared with a bound, reported but never asserted (the machine is
 * shared, so durations say as much about the neighbours as about Spillway).
 */
export interface Check {
  name: string;
  ok: boolean;
  kind: 'guarantee' | 'timing';
  detail?: string;
}

export interface Figure {
  label: string;
  value: string | number;
}

export interface ScenarioContext {
  options: ChaosOptions;
  deployment: Deployment;
  load: LoadGenerator;
  figures: Figure[];
  checks: Check[];
  /** Notes for the report: what a figure means, why something could not be shown. */
  notes: string[];
  /** Records a moment of the scenario (a kill, a stop) on its timeline. */
  mark(event: string): void;
  /** The RSS samples of the deployment's processes so far. */
  rss(): RssSample[];
  /** Has the status sampler watch a task the scenario submitted itself (besides the load's). */
  track(id: string): void;
}

export interface ScenarioDefinition {
  id: string;
  title: string;
  /** One sentence: what is done to the system. */
  fault: string;
  /**
   * True where the design promises that no succeeded task ran twice: no worker dies or loses
   * partitions, so no attempt can be in flight when its partition moves.
   */
  expectNoDuplicates: boolean;
  deployment: DeploymentOptions;
  /** Share of clients sending an Idempotency-Key (default 1). */
  keyedShare?: number;
  /** The body of a load submission (default: a `counted` task of 10-60 ms). */
  task?: LoadOptions['task'];
  /** Headers of a load submission (default: none; with API keys, which tenant submits it). */
  headers?: LoadOptions['headers'];
  /** How long clients may keep retrying after the load stops (default options.clientDrainMs). */
  clientDrainMs?(options: ChaosOptions): number;
  /** Runs while the load runs, after the warm-up. */
  inject(ctx: ScenarioContext): Promise<void>;
  /** Scenario-specific checks once the ledger is known (every acknowledged task finished or lost). */
  verify?(ctx: ScenarioContext, ledger: Reconciliation): Promise<void>;
}

export interface ScenarioResult {
  id: string;
  title: string;
  fault: string;
  queue: string;
  expectNoDuplicates: boolean;
  startedAt: Date;
  seconds: number;
  ledger?: Reconciliation;
  statuses?: StatusReport;
  figures: Figure[];
  checks: Check[];
  notes: string[];
  timeline: { at: number; event: string }[];
  rss: RssSample[];
  /** Error-level log messages of the services, with how often each was logged. */
  errorLines: string[];
  /** Set when the scenario itself failed to run to its end. */
  error?: string;
}

/** The default load: a `counted` task sleeping 10-60 ms, tagged with its submission. */
export const countedTask: LoadOptions['task'] = (seq, tag) => ({
  type: 'counted',
  payload: { ms: 10 + ((seq * 37) % 51), tag },
});

/** A `counted` task of 50-250 ms: long enough that a fault finds several in flight on each worker. */
export const mediumTask: LoadOptions['task'] = (seq, tag) => ({
  type: 'counted',
  payload: { ms: 50 + ((seq * 37) % 201), tag },
  // Every priority lane under the fault, a third each: the guarantees hold in each of them.
  ...(seq % 3 !== 1 && { priority: seq % 3 === 0 ? 'high' : 'low' }),
});

/** The checks every scenario makes on its ledger and status samples. */
function ledgerChecks(
  def: ScenarioDefinition,
  ledger: Reconciliation,
  statuses: StatusReport,
  rebalances: number,
): Check[] {
  const checks: Check[] = [
    {
      name: 'no acknowledged task lost',
      ok: ledger.lost === 0,
      kind: 'guarantee',
      ...(ledger.lost > 0 && { detail: ledger.lostExamples.join('; ') }),
    },
    { name: 'every acknowledged id is on the tasks topic', ok: ledger.notOnTopic === 0, kind: 'guarantee' },
    {
      name: 'no task re-run after its success was recorded',
      ok: ledger.rerunsAfterSuccess === 0,
      kind: 'guarantee',
      ...(ledger.rerunsAfterSuccess > 0 && { detail: ledger.rerunExamples.join('; ') }),
    },
    {
      name: 'no status went backwards',
      ok: statuses.backwards.length === 0,
      kind: 'guarantee',
      ...(statuses.backwards.length > 0 && {
        detail: statuses.backwards
          .slice(0, 5)
          .map((b) => `${b.id}: ${b.from.status}#${b.from.attempts} → ${b.to.status}#${b.to.attempts}`)
          .join('; '),
      }),
    },
    {
      name: 'one Idempotency-Key, one id',
      ok: ledger.submissionsWithSeveralIds === 0,
      kind: 'guarantee',
    },
    {
      name: 'one Idempotency-Key, one task on the topic',
      ok: ledger.keyedSubmissionsWithSeveralTasks === 0,
      kind: 'guarantee',
      ...(ledger.keyedSubmissionsWithSeveralTasks > 0 && {
        detail: `${ledger.keyedSubmissionsWithSeveralTasks} keys; ${ledger.severalTasksExamples.slice(0, 2).join('; ')}`,
      }),
    },
    {
      name: 'acknowledged tasks were observed',
      ok: ledger.acknowledged > 0 && statuses.tracked > 0,
      kind: 'guarantee',
    },
  ];
  if (def.expectNoDuplicates) {
    // A partition that moved while a task of it ran is the README's own exception; the session
    // timeout is 30 s, so on a machine starved of CPU a missed heartbeat can still move one.
    checks.push({
      name: 'no succeeded task executed twice',
      ok: ledger.duplicates === 0 || rebalances > 0,
      kind: 'guarantee',
      ...(ledger.duplicates > 0 && {
        detail: `${ledger.duplicates} executed twice; ${rebalances} consumer group joins during the load${rebalances > 0 ? ' moved partitions (allowed)' : ''}`,
      }),
    });
  }
  return checks;
}

/**
 * Runs one scenario end to end: a fresh deployment on its own queue, the steady load, the fault,
 * more load, then the reconciliation. Never throws: a scenario that breaks down is a result with
 * `error` set, so a full run goes on to the next one.
 */
export async function runScenario(
  cluster: ChaosCluster,
  def: ScenarioDefinition,
  options: ChaosOptions,
): Promise<ScenarioResult> {
  const startedAt = new Date();
  const deployment = new Deployment(cluster, chaosQueue(def.id), def.deployment);
  const result: ScenarioResult = {
    id: def.id,
    title: def.title,
    fault: def.fault,
    queue: deployment.queue,
    expectNoDuplicates: def.expectNoDuplicates,
    startedAt,
    seconds: 0,
    figures: [],
    checks: [],
    notes: [],
    timeline: [],
    rss: [],
    errorLines: [],
  };
  const sampler = new StatusSampler(cluster.redisUrl, deployment.queue);
  const rss = new RssSampler(() => deployment.history, options.rssEveryMs);
  let loadStarted = 0;
  try {
    await deployment.start();
    const load = new LoadGenerator({
      url: deployment.apiUrl,
      ratePerSec: options.ratePerSec,
      keyedShare: def.keyedShare ?? 1,
      task: def.task ?? countedTask,
      ...(def.headers && { headers: def.headers }),
      onAcknowledged: (id) => sampler.track(id),
    });
    const ctx: ScenarioContext = {
      options,
      deployment,
      load,
      figures: result.figures,
      checks: result.checks,
      notes: result.notes,
      mark: (event) => result.timeline.push({ at: Date.now(), event }),
      rss: () => rss.samples,
      track: (id) => sampler.track(id),
    };
    sampler.start();
    rss.start();
    loadStarted = Date.now();
    load.start();
    ctx.mark('load started');
    await sleep(options.warmupMs);
    try {
      await def.inject(ctx);
    } catch (err) {
      result.error = `the fault injection failed: ${String(err)}`;
    }
    await sleep(options.cooldownMs);
    ctx.mark('load stopping');
    await load.stop(def.clientDrainMs?.(options) ?? options.clientDrainMs);
    ctx.mark('load stopped');
    const ledger = await reconcile(deployment, load, options.settleMs);
    ctx.mark('reconciled');
    result.ledger = ledger;
    const statuses = await sampler.stop();
    result.statuses = statuses;
    const rebalances = deployment.joinsSince(loadStarted);
    // Who held which partitions when: what explains a duplicate or a slow finish.
    result.timeline.push(...deployment.joinEvents(loadStarted));
    result.timeline.sort((a, b) => a.at - b.at);
    result.checks.unshift(...ledgerChecks(def, ledger, statuses, rebalances));
    const answers = load.attempts();
    result.figures.unshift(
      { label: 'client answers, all attempts', value: statusBreakdown(answers) },
      { label: 'slowest answer', value: ms(max(answers.map((a) => a.ms))) },
      { label: 'consumer group joins during the load (each one a rebalance)', value: rebalances },
    );
    const dead = await deployment.runningWithDeadConsumer();
    result.checks.push({
      name: 'no worker left running with a dead consumer',
      ok: dead.length === 0,
      kind: 'guarantee',
      ...(dead.length > 0 && {
        detail: `${dead.join('; ')}: still running after its consumer crashed for good`,
      }),
    });
    if (deployment.incidents.length > 0) {
      result.figures.push({
        label: 'workers that exited after a consumer crashed for good, and were replaced',
        value: deployment.incidents.join('; '),
      });
    }
    const died = deployment.workers.concat(deployment.api).filter((p) => !p.alive);
    result.checks.push({
      name: 'no process died unless the scenario killed it',
      ok: died.length === 0,
      kind: 'guarantee',
      ...(died.length > 0 && { detail: died.map((p) => p.name).join(', ') }),
    });
    if (def.verify) await def.verify(ctx, ledger);
  } catch (err) {
    result.error = String(err instanceof Error ? (err.stack ?? err) : err);
  } finally {
    await sampler.stop().catch(() => undefined);
    result.rss = rss.stop();
    result.errorLines = deployment.errorSummary();
    await deployment.stop();
    result.seconds = (Date.now() - startedAt.getTime()) / 1000;
  }
  return result;
}
