import { randomUUID } from 'node:crypto';
import { FlowProducer, QueueEvents, QueueKeys } from 'bullmq';
import { Redis } from 'ioredis';
import { receiver } from '../../tests/helpers/receiver';
import { startApiAndWorker, startChild, type Child } from '../child';
import { dropQueues } from '../cleanup';
import type { BenchOptions } from '../options';
import { FANOUT_TYPE, type FanoutResult } from '../systems/spillway-fanout';
import { SpillwayState, spillwayWorkerReady } from '../systems/spillway-state';
import { benchQueue, REDIS_URL, sleep, waitFor } from '../stack';
import { summarize, type Summary } from '../stats';
import { pipelined } from './e2e';

export type FanoutSystem = 'spillway' | 'bullmq';

export interface FanoutRow {
  system: FanoutSystem;
  children: number;
  concurrency: number;
  /** From the parent's submission to the client hearing it finished (callback / completed event). */
  completionMs: Summary;
  /** Creating the children: the parent handler's ctx.spawn (Spillway), flow.add (BullMQ). */
  spawnMs: Summary;
  /** From the submission to the parent handler's start; undefined where it runs after its children. */
  parentStartMs?: Summary;
  /** From the first child's start to the last child's finish. */
  childrenSpanMs: Summary;
  childrenPerSec: Summary;
  /** From the last child's finish to the client hearing the parent finished. */
  noticeAfterLastChildMs: Summary;
  /** Over all runs: children spawned, and of those succeeded. */
  spawned: number;
  succeeded: number;
  /** Over all runs: completion notices for the parent received (one per run is right). */
  notices: number;
  runs: number;
}

interface FanoutRun {
  completionMs: number;
  spawnMs: number;
  parentStartMs?: number;
  childrenSpanMs: number;
  noticeAfterLastChildMs: number;
  spawned: number;
  succeeded: number;
  notices: number;
}

/** Spillway's default, as in drain and e2e; one worker process for each system. */
const CONCURRENCY = 16;
/**
 * After the first notice, how long a second one (a callback sent twice) is waited for before the
 * run's count is taken: the parent's callback is promised once.
 */
const SECOND_NOTICE_GRACE_MS = 1000;
const connection = { url: REDIS_URL };
const bullKeys = new QueueKeys();

/**
 * Fan-out: one parent, `fanoutChildren` no-op children, until the client hears the parent finished.
 * Spillway: the parent is submitted with a callbackUrl (a real HTTP receiver in this process); its
 * handler spawns the children with ctx.spawn(…, { wait: true }); the callback arrives once the
 * last child is terminal. BullMQ: FlowProducer.add declares the parent and its children up front;
 * the parent job runs after its children; the client hears of it through QueueEvents. The two
 * systems take turns, run by run, so drift on the shared machine falls on both alike.
 */
export async function fanoutScenario(options: BenchOptions): Promise<FanoutRow[]> {
  const runs: Record<FanoutSystem, FanoutRun[]> = { spillway: [], bullmq: [] };
  for (let i = 0; i < options.repeats; i++) {
    for (const system of ['spillway', 'bullmq'] as const) {
      const run = await (system === 'spillway' ? spillwayRun : bullmqRun)(options.fanoutChildren);
      runs[system].push(run);
      console.log(
        `fanout ${system}: ${run.completionMs} ms to completion, spawn ${run.spawnMs.toFixed(0)} ms, ` +
          `children ${run.childrenSpanMs} ms, ${run.succeeded}/${run.spawned} succeeded, ${run.notices} notice(s)`,
      );
    }
  }
  return (['spillway', 'bullmq'] as const).map((system) =>
    toRow(system, options.fanoutChildren, runs[system]),
  );
}

function toRow(system: FanoutSystem, children: number, runs: FanoutRun[]): FanoutRow {
  const of = (pick: (r: FanoutRun) => number) => summarize(runs.map(pick));
  const starts = runs.map((r) => r.parentStartMs).filter((ms): ms is number => ms !== undefined);
  const total = (pick: (r: FanoutRun) => number) => runs.reduce((sum, r) => sum + pick(r), 0);
  return {
    system,
    children,
    concurrency: CONCURRENCY,
    completionMs: of((r) => r.completionMs),
    spawnMs: of((r) => r.spawnMs),
    ...(starts.length > 0 && { parentStartMs: summarize(starts) }),
    childrenSpanMs: of((r) => r.childrenSpanMs),
    childrenPerSec: of((r) => r.spawned / (Math.max(1, r.childrenSpanMs) / 1000)),
    noticeAfterLastChildMs: of((r) => r.noticeAfterLastChildMs),
    spawned: total((r) => r.spawned),
    succeeded: total((r) => r.succeeded),
    notices: total((r) => r.notices),
    runs: runs.length,
  };
}

/** Every wait is bounded: generous for a loaded machine, yet a stuck parent fails the run. */
const deadlineMs = (children: number) => 120_000 + children * 10;

/** First start and last finish (epoch ms) over the children's [start, finish] pairs. */
function span(times: [number | undefined, number | undefined][]): { first: number; last: number } {
  const starts = times.map(([s]) => s).filter((t): t is number => t !== undefined);
  const finishes = times.map(([, f]) => f).filter((t): t is number => t !== undefined);
  if (starts.length === 0 || finishes.length === 0) throw new Error('no child started or finished');
  return { first: Math.min(...starts), last: Math.max(...finishes) };
}

const msOf = (value: string | null | undefined) => (value ? Number(value) : undefined);

async function spillwayRun(children: number): Promise<FanoutRun> {
  const queue = benchQueue('spillway-fanout');
  const noticed: number[] = [];
  // Stamped on arrival, before the body is parsed: when the client would hear of it.
  const hook = await receiver((res) => {
    noticed.push(Date.now());
    res.writeHead(200).end();
  });
  const state = new SpillwayState(queue);
  let started: { api: Child; worker: Child } | undefined;
  try {
    started = await startApiAndWorker('spillway-fanout', queue, { concurrency: CONCURRENCY });
    // Every lane's consumer in its group: the parent and its children do not wait on a join.
    await spillwayWorkerReady(started.worker);
    const submittedAt = Date.now();
    const res = await fetch(`${started.api.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        type: FANOUT_TYPE,
        payload: { children, childType: 'echo' },
        callbackUrl: hook.url,
      }),
    });
    if (res.status !== 202) throw new Error(`parent refused: ${res.status} ${await res.text()}`);
    const first = await waitFor(async () => noticed[0], deadlineMs(children), 'the parent callback');
    // The callback's body is the parent's record as GET shows it: status, result, its batch.
    const parent = JSON.parse(hook.received[0]!.rawBody) as {
      status: string;
      startedAt: string;
      result: FanoutResult;
      children: string;
    };
    if (parent.status !== 'succeeded') throw new Error(`parent ${parent.status}, not succeeded`);
    const { record, children: ids } = await state.batch(parent.children);
    const times = (await state.records(ids, ['startedAt', 'finishedAt'])).map(
      ([s, f]) => [msOf(s), msOf(f)] as [number | undefined, number | undefined],
    );
    const { first: firstChild, last: lastChild } = span(times);
    await sleep(SECOND_NOTICE_GRACE_MS);
    return {
      completionMs: first - submittedAt,
      spawnMs: parent.result.spawnMs,
      parentStartMs: Date.parse(parent.startedAt) - submittedAt,
      childrenSpanMs: lastChild - firstChild,
      noticeAfterLastChildMs: first - lastChild,
      spawned: ids.length,
      succeeded: Number(record.succeeded ?? 0),
      notices: noticed.length,
    };
  } finally {
    await started?.worker.stop();
    await started?.api.stop();
    await hook.close();
    state.close();
    await dropQueues([{ system: 'spillway-fanout', queue }]);
  }
}

async function bullmqRun(children: number): Promise<FanoutRun> {
  const queue = benchQueue('bullmq');
  const flows = new FlowProducer({ connection });
  const events = new QueueEvents(queue, { connection });
  const redis = new Redis(REDIS_URL);
  // Known before flow.add, so no completion can come before the listener knows which job it is.
  const parentId = randomUUID();
  const noticed: number[] = [];
  events.on('completed', ({ jobId }) => {
    if (jobId === parentId) noticed.push(Date.now());
  });
  let worker: Child | undefined;
  try {
    await events.waitUntilReady();
    worker = await startChild('bullmq', 'worker', queue, { concurrency: CONCURRENCY });
    const submittedAt = Date.now();
    const before = performance.now();
    const node = await flows.add({
      name: 'fanout',
      queueName: queue,
      data: { children },
      opts: { jobId: parentId },
      children: Array.from({ length: children }, () => ({ name: 'echo', queueName: queue, data: null })),
    });
    const spawnMs = performance.now() - before;
    const first = await waitFor(async () => noticed[0], deadlineMs(children), 'the parent job completing');
    const ids = (node.children ?? []).map((c) => c.job.id!);
    // BullMQ's job hash: processedOn when a worker took it, finishedOn when it completed or failed.
    const hashes = await pipelined(
      redis,
      ids,
      (p, id) => p.hmget(bullKeys.toKey(queue, id), 'processedOn', 'finishedOn', 'failedReason'),
      (v) => v as (string | null)[],
    );
    const { first: firstChild, last: lastChild } = span(hashes.map(([s, f]) => [msOf(s), msOf(f)]));
    await sleep(SECOND_NOTICE_GRACE_MS);
    return {
      completionMs: first - submittedAt,
      spawnMs,
      childrenSpanMs: lastChild - firstChild,
      noticeAfterLastChildMs: first - lastChild,
      spawned: ids.length,
      succeeded: hashes.filter(([, f, failed]) => f && !failed).length,
      notices: noticed.length,
    };
  } finally {
    await worker?.stop();
    await events.close();
    await flows.close();
    redis.disconnect();
    await dropQueues([{ system: 'bullmq', queue }]);
  }
}
