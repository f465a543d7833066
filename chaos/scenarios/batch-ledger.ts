import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { batchSeed } from '../../services/shared/batches/batch';
import { RedisKeys } from '../../services/shared/redis/keys';
import { TERMINAL_STATUSES } from '../../services/shared/task';
import { seededTaskId } from '../../services/shared/task-ids';
import { readRecords, startsAfter } from '../reconcile';
import { readRuns, type RunEvent } from '../runs';
import type { Check, Figure, ScenarioContext } from '../scenario';
import { runsCutShort, unexplainedReruns, type Kill } from './kill-storm';

interface Counts {
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** A batch as GET /v1/batches/:id shows it, with every page of its unsuccessful ids. */
export interface BatchView {
  status: string;
  total: number;
  done: number;
  counts: Counts;
  finishedAt: string | null;
  callback?: { delivered?: boolean; at?: string };
  unsuccessfulIds: string[];
}

/** One request the batch's callback receiver got. */
export interface Delivery {
  at: number;
  idempotencyKey?: string;
  batchHeader?: string;
  body: { status?: string; total?: number; done?: number; counts?: Counts };
}

/** What the scenario did and saw, for the reconciliation. */
export interface BatchFacts {
  batchId: string;
  /** Children the API accepted (ids in its answers), over every request. */
  children: string[];
  /** Children whose DELETE /v1/tasks/:id answered 200. */
  cancelled: string[];
  deliveries: Delivery[];
  kills: Kill[];
}

/** The names of the batch's checks (report.ts explains each when it fails). */
export const BATCH_CHECKS = {
  finished: 'the batch finished',
  total: 'the batch total is the number of children accepted',
  sum: "the batch's counts add up to its total",
  records: "the batch's counts match its children's records",
  unsuccessful: "the batch's unsuccessful ids are its failed and cancelled children",
  ran: 'every finished child ran at least once',
  rerun: 'no child or onComplete task re-run after its success was recorded',
  unexplained: 'no handler run repeated without a kill or a rebalance between',
  callback:
    'the batch callback arrived at least once, every time with one Idempotency-Key and the final counts',
  onComplete:
    'the onComplete task ran to completion once, under the id derived from the batch, with the final counts',
};

/** The onComplete task's id: derived from the batch (services/worker/batches/completions.ts). */
export const onCompleteId = (batchId: string) => seededTaskId(batchSeed(batchId), 'on-complete');

/** GET /v1/batches/:id, following `unsuccessful.next` to the last page. */
export async function fetchBatch(apiUrl: string, id: string): Promise<BatchView> {
  const ids: string[] = [];
  let after: string | undefined = '0';
  let view: Omit<BatchView, 'unsuccessfulIds'> | undefined;
  while (after !== undefined) {
    const res = await fetch(`${apiUrl}/v1/batches/${id}?after=${after}`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200) throw new Error(`GET /v1/batches/${id}: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as Omit<BatchView, 'unsuccessfulIds'> & {
      unsuccessful: { ids: string[]; next?: string };
    };
    view ??= page;
    ids.push(...page.unsuccessful.ids);
    after = page.unsuccessful.next;
  }
  return { ...view!, unsuccessfulIds: ids };
}

/** What each run of the `batch-done` handler was told about its batch (tests/fixtures/chaos-handlers.js). */
interface BatchDoneRun {
  taskId: string;
  attempt: number;
  batch: { id?: string; status?: string; total?: number; done?: number; counts?: Counts };
}

function readBatchDoneRuns(dir: string): BatchDoneRun[] {
  return readdirSync(dir)
    .filter((file) => /^batch-done-\d+\.log$/.test(file))
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as BatchDoneRun];
      } catch {
        return []; // the empty last line, or one cut by a kill
      }
    });
}

const sameCounts = (a: Counts | undefined, b: Counts) =>
  a?.succeeded === b.succeeded && a.failed === b.failed && a.cancelled === b.cancelled;
const showCounts = (c: Counts) => `${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled`;
const examples = (items: string[]) => `${items.length}: ${items.slice(0, 3).join('; ')}`;

/**
 * The batch's reconciliation: its final record against its children's records and handler runs,
 * its callback's deliveries and its onComplete task's runs. Pushes figures and checks to `ctx`.
 */
export async function reconcileBatch(ctx: ScenarioContext, facts: BatchFacts): Promise<void> {
  const { deployment } = ctx;
  const { batchId, children, deliveries, kills } = facts;
  const view = await fetchBatch(deployment.apiUrl, batchId);
  const keys = new RedisKeys(deployment.queue);
  const redis = new Redis(deployment.cluster.redisUrl, { maxRetriesPerRequest: 3 });
  const finalId = onCompleteId(batchId);
  let records: Awaited<ReturnType<typeof readRecords>>;
  let parents: (string | null)[];
  try {
    records = await readRecords(redis, keys, [...children, finalId]);
    const pipeline = redis.pipeline();
    for (const id of children) pipeline.hget(keys.task(id), 'batch');
    parents = ((await pipeline.exec()) ?? []).map(([, value]) => value as string | null);
  } finally {
    redis.disconnect();
  }
  const statusOf = (id: string) => records.get(id)?.status;
  const withStatus = (status: string) => children.filter((id) => statusOf(id) === status);
  const actual: Counts = {
    succeeded: withStatus('succeeded').length,
    failed: withStatus('failed').length,
    cancelled: withStatus('cancelled').length,
  };
  const unfinished = children.filter((id) => !TERMINAL_STATUSES.has(statusOf(id) ?? 'queued'));
  const orphans = children.filter((id, i) => parents[i] !== batchId);
  const unsuccessful = new Set([...withStatus('failed'), ...withStatus('cancelled')]);
  const listed = new Set(view.unsuccessfulIds);

  const runs = readRuns(deployment.runsDir);
  const eventsOf = (id: string): RunEvent[] => runs.get(id) ?? [];
  const count = (id: string, event: RunEvent['event']) =>
    eventsOf(id).filter((e) => e.event === event).length;
  // A cancelled child may never have run; a finished one ran (and failed ones failed) at least once.
  const neverRan = children.filter(
    (id) =>
      (statusOf(id) === 'succeeded' && count(id, 'done') === 0) ||
      (statusOf(id) === 'failed' && count(id, 'fail') === 0),
  );
  const rerunAfterSuccess = [...withStatus('succeeded'), finalId].filter(
    (id) => startsAfter(runs.get(id), records.get(id)?.finishedAt).length > 0,
  );
  const killed = new Set(kills.map((k) => k.pid));
  const joins = deployment.history.flatMap((p) => p.joins);
  const unexplained = [...children, finalId].flatMap((id) => unexplainedReruns(eventsOf(id), killed, joins));
  const childDuplicates = withStatus('succeeded').filter((id) => count(id, 'done') > 1).length;

  const key = `batch:${batchId}:completion`;
  const strayDeliveries = deliveries.filter(
    (d) =>
      d.idempotencyKey !== key ||
      d.batchHeader !== batchId ||
      d.body.status !== 'finished' ||
      d.body.total !== view.total ||
      !sameCounts(d.body.counts, view.counts),
  );
  const finalRuns = readBatchDoneRuns(deployment.runsDir).filter((r) => r.batch.id === batchId);
  const finalMisread = finalRuns.filter(
    (r) =>
      r.taskId !== finalId ||
      r.batch.status !== 'finished' ||
      r.batch.done !== view.total ||
      !sameCounts(r.batch.counts, view.counts),
  );
  const finalCompletions = count(finalId, 'done');

  const figures: Figure[] = [
    { label: 'batch children accepted (requests)', value: children.length },
    { label: 'children cancelled by a client while the batch ran', value: facts.cancelled.length },
    { label: "batch's counts at the end", value: `${view.total} total: ${showCounts(view.counts)}` },
    { label: "children's records", value: showCounts(actual) },
    {
      label: 'children: handler starts / runs cut short by a kill / succeeded ones that finished twice',
      value: `${children.reduce((n, id) => n + count(id, 'start'), 0)} / ${runsCutShort(
        new Map(children.map((id) => [id, eventsOf(id)])),
        kills,
      )} / ${childDuplicates}`,
    },
    {
      label: 'completion callback deliveries (distinct Idempotency-Keys)',
      value: `${deliveries.length} (${new Set(deliveries.map((d) => d.idempotencyKey)).size})`,
    },
    {
      label: 'onComplete task: starts / completed runs / status',
      value: `${count(finalId, 'start')} / ${finalCompletions} / ${statusOf(finalId) ?? 'no record'}`,
    },
  ];
  const checks: Check[] = [
    {
      name: BATCH_CHECKS.finished,
      ok: view.status === 'finished',
      kind: 'guarantee',
      detail: `${view.status}, ${view.done} of ${view.total} done`,
    },
    {
      name: BATCH_CHECKS.total,
      ok: view.total === children.length,
      kind: 'guarantee',
      detail: `${view.total} counted, ${children.length} accepted`,
    },
    {
      name: BATCH_CHECKS.sum,
      ok:
        view.done === view.total &&
        view.counts.succeeded + view.counts.failed + view.counts.cancelled === view.total,
      kind: 'guarantee',
      detail: `${showCounts(view.counts)}, done ${view.done}, total ${view.total}`,
    },
    {
      name: BATCH_CHECKS.records,
      ok: sameCounts(view.counts, actual) && unfinished.length === 0 && orphans.length === 0,
      kind: 'guarantee',
      detail:
        `records: ${showCounts(actual)}; unfinished ${unfinished.length}` +
        (orphans.length > 0 ? `; without the batch in their record ${examples(orphans)}` : ''),
    },
    {
      name: BATCH_CHECKS.unsuccessful,
      ok: listed.size === unsuccessful.size && [...unsuccessful].every((id) => listed.has(id)),
      kind: 'guarantee',
      detail: `${listed.size} listed, ${unsuccessful.size} failed or cancelled`,
    },
    {
      name: BATCH_CHECKS.ran,
      ok: neverRan.length === 0,
      kind: 'guarantee',
      ...(neverRan.length > 0 && { detail: examples(neverRan) }),
    },
    {
      name: BATCH_CHECKS.rerun,
      ok: rerunAfterSuccess.length === 0,
      kind: 'guarantee',
      ...(rerunAfterSuccess.length > 0 && { detail: examples(rerunAfterSuccess) }),
    },
    {
      name: BATCH_CHECKS.unexplained,
      ok: unexplained.length === 0,
      kind: 'guarantee',
      ...(unexplained.length > 0 && { detail: examples(unexplained) }),
    },
    {
      name: BATCH_CHECKS.callback,
      ok: deliveries.length > 0 && strayDeliveries.length === 0 && view.callback?.delivered === true,
      kind: 'guarantee',
      detail:
        `${deliveries.length} deliveries, ${strayDeliveries.length} with another key, batch or counts; ` +
        `recorded delivered: ${view.callback?.delivered ?? 'no'}`,
    },
    {
      name: BATCH_CHECKS.onComplete,
      // More than one completed run only where a kill or rebalance explains it (checked above).
      ok:
        statusOf(finalId) === 'succeeded' &&
        finalCompletions >= 1 &&
        finalMisread.length === 0 &&
        (finalCompletions === 1 || unexplainedReruns(eventsOf(finalId), killed, joins).length === 0),
      kind: 'guarantee',
      detail: `${finalCompletions} completed of ${finalRuns.length} runs, ${finalMisread.length} under another id or with other counts`,
    },
  ];
  ctx.figures.push(...figures);
  ctx.checks.push(...checks);
}
