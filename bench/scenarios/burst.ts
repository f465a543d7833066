import { startApiAndWorker, type Child } from '../child';
import { dropQueues } from '../cleanup';
import type { BenchOptions } from '../options';
import { SpillwayState, spillwayWorkerReady } from '../systems/spillway-state';
import { benchQueue, sleep, waitFor } from '../stack';
import { summarize, type Summary } from '../stats';
import { submitTasks, type SubmitStats } from './submit';

/** Tasks per request: the API's BATCH_MAX_TASKS default, what a client with a burst would send. */
const BATCH = 1000;
const MIB = 2 ** 20;

export interface BurstRow {
  system: 'spillway';
  tasks: number;
  clients: number;
  batch: number;
  workerConcurrency: number;
  /** From the first submission to the last accepted reply. */
  acceptSeconds: Summary;
  acceptPerSec: Summary;
  /** From the first submission until every accepted task had succeeded. */
  doneSeconds: Summary;
  apiPeakRssMiB: Summary;
  workerPeakRssMiB: Summary;
  /** Answers the client retried with the same Idempotency-Key over all runs: 503 shed, 409 in doubt. */
  retried503: number;
  retried409: number;
  reconciliation: Reconciliation;
}

/** Summed over every run of the scenario. */
export interface Reconciliation {
  accepted: number;
  succeeded: number;
  /** Accepted tasks whose record is not `succeeded` at the end. */
  lost: number;
  /** Handler runs the worker counted (spillway_tasks_processed_total); undefined if it had none. */
  executions: number | undefined;
  /** Executions beyond one per succeeded task. */
  executedTwice: number | undefined;
  /** Records whose attempts field is not 1. */
  attemptsNotOne: number;
  /** Redeliveries of finished tasks the worker recognised and did not run. */
  redeliveriesSkipped: number | undefined;
}

interface Run {
  acceptSeconds: number;
  doneSeconds: number;
  apiRss: number;
  workerRss: number;
  stats: SubmitStats;
  reconciliation: Reconciliation;
}

/**
 * Scenario 5: a burst. N `echo` tasks submitted as fast as a fan-out client can (the batch
 * endpoint, 1,000 per request, several requests in flight) while one worker runs; then every
 * accepted id is checked: succeeded, executed once.
 */
export async function burstScenario(options: BenchOptions): Promise<BurstRow[]> {
  const runs: Run[] = [];
  for (let i = 0; i < options.repeats; i++) runs.push(await oneRun(options));
  const sum = (pick: (r: Reconciliation) => number | undefined) =>
    runs.some((r) => pick(r.reconciliation) === undefined)
      ? undefined
      : runs.reduce((total, r) => total + pick(r.reconciliation)!, 0);
  const row: BurstRow = {
    system: 'spillway',
    tasks: options.burstTasks,
    clients: options.burstClients,
    batch: BATCH,
    workerConcurrency: 16,
    acceptSeconds: summarize(runs.map((r) => r.acceptSeconds)),
    acceptPerSec: summarize(runs.map((r) => options.burstTasks / r.acceptSeconds)),
    doneSeconds: summarize(runs.map((r) => r.doneSeconds)),
    apiPeakRssMiB: summarize(runs.map((r) => r.apiRss / MIB)),
    workerPeakRssMiB: summarize(runs.map((r) => r.workerRss / MIB)),
    retried503: runs.reduce((n, r) => n + (r.stats.retried[503] ?? 0), 0),
    retried409: runs.reduce((n, r) => n + (r.stats.retried[409] ?? 0), 0),
    reconciliation: {
      accepted: sum((r) => r.accepted)!,
      succeeded: sum((r) => r.succeeded)!,
      lost: sum((r) => r.lost)!,
      executions: sum((r) => r.executions),
      executedTwice: sum((r) => r.executedTwice),
      attemptsNotOne: sum((r) => r.attemptsNotOne)!,
      redeliveriesSkipped: sum((r) => r.redeliveriesSkipped),
    },
  };
  console.log(
    `burst ${options.burstTasks}: accepted in ${runs.map((r) => r.acceptSeconds.toFixed(1)).join(', ')} s, ` +
      `done in ${runs.map((r) => r.doneSeconds.toFixed(1)).join(', ')} s; ` +
      `lost ${row.reconciliation.lost}, executed twice ${row.reconciliation.executedTwice ?? 'n/a'}`,
  );
  return [row];
}

async function oneRun(options: BenchOptions): Promise<Run> {
  const queue = benchQueue('spillway');
  const state = new SpillwayState(queue);
  const { api, worker } = await startApiAndWorker('spillway', queue);
  try {
    await spillwayWorkerReady(worker);
    const started = performance.now();
    const stats: SubmitStats = { retried: {} };
    const ids = await submitTasks(
      api.url,
      { type: 'echo', payload: { n: 1 } },
      options.burstTasks,
      BATCH,
      options.burstClients,
      stats,
    );
    const acceptSeconds = (performance.now() - started) / 1000;
    const unique = [...new Set(ids)];
    // Bounded: a task that never succeeds is counted as lost below rather than hanging the run.
    await waitFor(
      async () => ((await state.counts()).succeeded ?? 0) >= unique.length || undefined,
      Math.max(120_000, options.burstTasks * 2),
      `${unique.length} burst tasks to succeed`,
    ).catch((err: unknown) => console.warn(`burst: ${String(err)}; reconciling what there is`));
    const doneSeconds = (performance.now() - started) / 1000;
    const counters = await workerCounters(worker, unique.length);
    const records = await state.records(unique, ['status', 'attempts']);
    const succeeded = records.filter(([status]) => status === 'succeeded').length;
    const apiRss = api.highWaterRss();
    const workerRss = worker.highWaterRss();
    const [apiPeak, workerPeak] = await Promise.all([api.stop(), worker.stop()]);
    return {
      acceptSeconds,
      doneSeconds,
      apiRss: apiRss ?? apiPeak,
      workerRss: workerRss ?? workerPeak,
      stats,
      reconciliation: {
        accepted: ids.length,
        succeeded,
        lost: unique.length - succeeded,
        executions: counters.executions,
        // Two replies naming one id would be one task accepted twice: a duplicate too.
        executedTwice:
          counters.executions === undefined
            ? undefined
            : Math.max(0, counters.executions - succeeded) + (ids.length - unique.length),
        attemptsNotOne: records.filter(([, attempts]) => attempts !== '1').length,
        redeliveriesSkipped: counters.skipped,
      },
    };
  } finally {
    state.close();
    // Already stopped unless the run failed: stop() is safe to call again.
    await Promise.all([worker.stop(), api.stop()]);
    await dropQueues([{ system: 'spillway', queue }]);
  }
}

/**
 * The worker's own counts of handler runs and skipped redeliveries for `echo`, from its
 * Prometheus endpoint; waits briefly for the last runs' counters, bumped just after their
 * `succeeded` write.
 */
async function workerCounters(
  worker: Child,
  expected: number,
): Promise<{ executions?: number; skipped?: number }> {
  const read = async () => {
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    return {
      executions: sumSeries(text, 'spillway_tasks_processed_total', 'echo'),
      skipped: sumSeries(text, 'spillway_task_duplicates_skipped_total', 'echo'),
    };
  };
  let counters = await read();
  for (let i = 0; i < 20 && (counters.executions ?? expected) < expected; i++) {
    await sleep(100);
    counters = await read();
  }
  return counters;
}

/**
 * The sum of a counter's series for one task type: 0 when the metric is declared but has no such
 * series yet, undefined when the metric is not there at all.
 */
export function sumSeries(text: string, metric: string, type: string): number | undefined {
  let sum = text.includes(`# TYPE ${metric} `) ? 0 : undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) || !line.includes(`type="${type}"`)) continue;
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
