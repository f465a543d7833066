import Redis from 'ioredis';
import type { TaskRecord } from '../../../services/shared/task';
import type { Release } from './release';

/** One burst: `counted` tasks (tests/fixtures/counting-handlers.js) submitted as fast as the API takes them. */
export interface Burst {
  ids: string[];
  /** Epoch ms: the first request sent, the last one answered. */
  submittedFrom: number;
  submittedUntil: number;
}

const BATCH = 1000;

export async function submitBurst(release: Release, count: number, taskMs: number): Promise<Burst> {
  const url = await release.apiUrl();
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${await release.apiKey()}` };
  const ids: string[] = [];
  const submittedFrom = Date.now();
  for (let sent = 0; sent < count; sent += BATCH) {
    const tasks = Array.from({ length: Math.min(BATCH, count - sent) }, () => ({
      type: 'counted',
      payload: { ms: taskMs },
    }));
    const res = await fetch(`${url}/v1/tasks/batch`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ tasks }),
    });
    const body = (await res.json()) as { accepted: number; results: { id?: string }[] };
    if (res.status !== 202 || body.accepted !== tasks.length) {
      throw new Error(`batch answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
    }
    ids.push(...body.results.map((r) => r.id!));
  }
  return { ids, submittedFrom, submittedUntil: Date.now() };
}

/** What became of a burst's tasks: every one must have succeeded, each handler run exactly once. */
export interface Reconciliation {
  submitted: number;
  succeeded: number;
  /** Finished otherwise: failed or cancelled (none is expected: nothing here fails on purpose). */
  failed: string[];
  /** Not finished, or no record at all. */
  unfinished: string[];
  /** Tasks whose handler finished more than once (counted by the handler itself). */
  ranTwice: string[];
  /** Succeeded tasks whose handler never counted a finished run (a record without a run). */
  neverRan: string[];
  records: TaskRecord[];
}

export async function reconcile(release: Release, burst: Burst): Promise<Reconciliation> {
  const store = await release.taskStore();
  const redis = new Redis(await release.redisUrl(), { maxRetriesPerRequest: 3 });
  try {
    const [records, runs] = await Promise.all([
      Promise.all(burst.ids.map((id) => store.get(id))),
      redis.mget(burst.ids.map((id) => `spillway-test:${release.queue}:runs:${id}`)),
    ]);
    const result: Reconciliation = {
      submitted: burst.ids.length,
      succeeded: 0,
      failed: [],
      unfinished: [],
      ranTwice: [],
      neverRan: [],
      records: [],
    };
    burst.ids.forEach((id, i) => {
      const record = records[i];
      const ran = Number(runs[i] ?? 0);
      if (ran > 1) result.ranTwice.push(id);
      if (!record) return void result.unfinished.push(id);
      result.records.push(record);
      if (record.status === 'succeeded') {
        result.succeeded++;
        if (ran === 0) result.neverRan.push(id);
      } else if (record.status === 'failed' || record.status === 'cancelled') result.failed.push(id);
      else result.unfinished.push(id);
    });
    return result;
  } finally {
    redis.disconnect();
    await store.close();
  }
}

/** Polls the task records until every one of the burst has finished, or `timeoutMs` passes. */
export async function waitForBurst(
  release: Release,
  burst: Burst,
  timeoutMs: number,
): Promise<Reconciliation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await reconcile(release, burst);
    if (state.unfinished.length === 0 || Date.now() > deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/** A stretch during a burst in which no task started anywhere in the fleet. */
export interface Stall {
  /** Epoch ms of the last start before the gap. */
  from: number;
  seconds: number;
}

/**
 * Gaps of at least `minSeconds` between consecutive task starts, fleet-wide, while work was
 * waiting (between the first and the last start): the time scale steps and faults cost.
 */
export function stalls(records: TaskRecord[], minSeconds = 0.5): Stall[] {
  const starts = records
    .map((r) => r.startedAt?.getTime())
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b);
  const found: Stall[] = [];
  for (let i = 1; i < starts.length; i++) {
    const seconds = (starts[i]! - starts[i - 1]!) / 1000;
    if (seconds >= minSeconds) found.push({ from: starts[i - 1]!, seconds });
  }
  return found;
}

/** Epoch ms of the last task to finish. */
export function lastFinished(records: TaskRecord[]): number {
  return Math.max(...records.map((r) => r.finishedAt?.getTime() ?? 0));
}
