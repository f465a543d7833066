import { priorityOf } from '../services/shared/lanes/priority';
import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaNames } from '../services/shared/kafka/names';
import { RedisKeys } from '../services/shared/redis/keys';
import { TERMINAL_STATUSES, type TaskStatus } from '../services/shared/task';
import { decodeTaskMessage } from '../services/shared/task-message';
import type { Deployment } from './deployment';
import type { Attempt, LoadGenerator } from './load';
import { readRuns, type RunEvent } from './runs';
import { readTopicToEnd } from './topic';

/**
 * A handler start this long after the task's recorded finish cannot belong to a delivery that
 * raced the `succeeded` write (that write is timestamped just before it is sent, and Redis
 * commands time out after 2 s): it is a re-run of a task already recorded succeeded.
 */
export const RERUN_SLACK_MS = 5000;

/** The end-of-scenario ledger: what clients were promised against what happened. */
export interface Reconciliation {
  /** Submissions clients started. */
  submissions: number;
  /** Distinct task ids clients received in a 2xx. */
  acknowledged: number;
  /** Submissions that never got a 2xx (the client gave up): not acknowledged, so not owed. */
  gaveUp: number;
  /** Acknowledged tasks in a finished status. */
  terminal: number;
  succeeded: number;
  failed: number;
  /** Acknowledged tasks not finished within the settle time: must be 0. */
  lost: number;
  lostExamples: string[];
  /** Seconds from the end of the load until every acknowledged task had finished. */
  settleSeconds?: number;
  /** Acknowledged ids not on the tasks topic: a 2xx without Kafka holding the task. */
  notOnTopic: number;
  /** Task ids on the topic from the load's submissions that no client was given. */
  unacknowledgedOnTopic: number;
  /** Submissions whose tag is on the topic under more than one task id (two tasks for one request). */
  submissionsWithSeveralTasks: number;
  /** Of those, submissions that sent an Idempotency-Key: the README promises them one task. */
  keyedSubmissionsWithSeveralTasks: number;
  /** What happened to them: the ids, which one the client got, and the client's attempts. */
  severalTasksExamples: string[];
  /** Submissions whose client was given more than one id (an Idempotency-Key broken). */
  submissionsWithSeveralIds: number;
  /** Handler runs that finished successfully, over all tasks. */
  handlerCompletions: number;
  /** Succeeded tasks whose handler finished more than once. */
  duplicates: number;
  /** Tasks whose handler started again after their success had been recorded (the guarantee). */
  rerunsAfterSuccess: number;
  rerunExamples: string[];
  /** Messages on the tasks topic that are not task messages. */
  poisonOnTopic: number;
  /** The acknowledged task that finished last: id, partition, when accepted and finished. */
  lastFinished: string[];
}

interface RecordFields {
  status?: TaskStatus;
  attempts: number;
  finishedAt?: number;
  error?: string;
}

/** Reads status, attempts, finishedAt and error of many records in one round trip. */
export async function readRecords(
  redis: Redis,
  keys: RedisKeys,
  ids: string[],
): Promise<Map<string, RecordFields>> {
  const out = new Map<string, RecordFields>();
  for (let i = 0; i < ids.length; i += 5000) {
    const chunk = ids.slice(i, i + 5000);
    const pipeline = redis.pipeline();
    for (const id of chunk) pipeline.hmget(keys.task(id), 'status', 'attempts', 'finishedAt', 'error');
    const rows = (await pipeline.exec()) ?? [];
    rows.forEach(([err, value], j) => {
      if (err) throw err;
      const [status, attempts, finishedAt, error] = value as (string | null)[];
      out.set(chunk[j]!, {
        ...(status && { status: status as TaskStatus }),
        attempts: Number(attempts ?? 0),
        ...(finishedAt && { finishedAt: Number(finishedAt) }),
        ...(error && { error }),
      });
    });
  }
  return out;
}

/** Waits until every id is in a finished status or `timeoutMs` passed; returns the seconds it took, if it got there. */
export async function waitFinished(
  redis: Redis,
  keys: RedisKeys,
  ids: string[],
  timeoutMs: number,
): Promise<number | undefined> {
  const started = Date.now();
  let open = ids;
  while (open.length > 0) {
    if (Date.now() - started > timeoutMs) return undefined;
    try {
      const records = await readRecords(redis, keys, open);
      open = open.filter((id) => {
        const status = records.get(id)?.status;
        return !status || !TERMINAL_STATUSES.has(status);
      });
    } catch {
      // Redis not answering yet: try again
    }
    if (open.length > 0) await sleep(500);
  }
  return (Date.now() - started) / 1000;
}

/** A client's attempts, runs of the same answer folded: `+5.8 s 503 unavailable in 2015 ms, +7.0 s … +60.1 s 409 … × 52`. */
function describeAttempts(attempts: Attempt[], at: (ms: number) => string): string {
  const runs: Attempt[][] = [];
  for (const a of attempts) {
    const last = runs.at(-1);
    if (last && last[0]!.status === a.status && last[0]!.code === a.code) last.push(a);
    else runs.push([a]);
  }
  return runs
    .map((run) => {
      const [first] = run;
      const answer = `${first!.status || 'no answer'}${first!.code ? ` ${first!.code}` : ''}`;
      return run.length === 1
        ? `${at(first!.at)} ${answer} in ${Math.round(first!.ms)} ms`
        : `${at(first!.at)} … ${at(run.at(-1)!.at)} ${answer} × ${run.length}`;
    })
    .join(', ');
}

/** The handler runs of one task that started after its recorded finish (see RERUN_SLACK_MS). */
export function startsAfter(events: RunEvent[] | undefined, finishedAt: number | undefined): RunEvent[] {
  if (!events || finishedAt === undefined) return [];
  return events.filter((e) => e.event === 'start' && e.at > finishedAt + RERUN_SLACK_MS);
}

/**
 * Waits (up to `settleMs`) for every acknowledged task to finish, then checks the ledger: each
 * acknowledged id is on the tasks topic and finished, and no succeeded task ran again after its
 * success was recorded.
 */
export async function reconcile(
  deployment: Deployment,
  load: LoadGenerator,
  settleMs: number,
): Promise<Reconciliation> {
  const { cluster, queue } = deployment;
  const keys = new RedisKeys(queue);
  const redis = new Redis(cluster.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined);
  try {
    const acked = load.acknowledgedIds();
    const settleSeconds = await waitFinished(redis, keys, acked, settleMs);
    const records = await readRecords(redis, keys, acked);

    const byTag = new Map(load.submissions.map((s) => [s.tag, s]));
    // Every priority lane's topic: a task is on the one of its priority.
    const onTopic = (
      await Promise.all(kafkaNames(queue).lanes.map((lane) => readTopicToEnd(cluster.brokers, lane.topic)))
    ).flat();
    const topicIds = new Set<string>();
    const idsByTag = new Map<string, Set<string>>();
    const enqueuedAt = new Map<string, number>();
    /** `<priority> <partition>`: where the task was on Kafka. */
    const partitionOf = new Map<string, string>();
    let poisonOnTopic = 0;
    for (const message of onTopic) {
      let task;
      try {
        task = decodeTaskMessage(message.value);
      } catch {
        poisonOnTopic++;
        continue;
      }
      topicIds.add(task.id);
      enqueuedAt.set(task.id, task.enqueuedAt);
      partitionOf.set(task.id, `${priorityOf(task)} ${message.partition}`);
      const tag = (task.payload as { tag?: unknown } | null)?.tag;
      // Only the load's own tasks: a scenario may submit others (bursts, hanging tasks) beside it.
      if (typeof tag === 'string' && byTag.has(tag)) {
        const set = idsByTag.get(tag) ?? new Set<string>();
        set.add(task.id);
        idsByTag.set(tag, set);
      }
    }
    const ackedSet = new Set(acked);
    const several = [...idsByTag].filter(([, set]) => set.size > 1);
    const keyedSeveral = several.filter(([tag]) => byTag.get(tag)?.key !== undefined);
    const loadIdsOnTopic = [...idsByTag.values()].flatMap((set) => [...set]);

    const runs = readRuns(deployment.runsDir);
    const completions = (id: string) => runs.get(id)?.filter((e) => e.event === 'done').length ?? 0;
    let handlerCompletions = 0;
    for (const events of runs.values()) handlerCompletions += events.filter((e) => e.event === 'done').length;

    const statusOf = (id: string) => records.get(id)?.status;
    const lost = acked.filter((id) => {
      const status = statusOf(id);
      return !status || !TERMINAL_STATUSES.has(status);
    });
    const succeeded = acked.filter((id) => statusOf(id) === 'succeeded');
    const reruns = acked.filter((id) => startsAfter(runs.get(id), records.get(id)?.finishedAt).length > 0);
    return {
      submissions: load.submissions.length,
      acknowledged: acked.length,
      gaveUp: load.submissions.filter((s) => s.ids.length === 0).length,
      terminal: acked.length - lost.length,
      succeeded: succeeded.length,
      failed: acked.filter((id) => statusOf(id) === 'failed').length,
      lost: lost.length,
      lostExamples: lost
        .slice(0, 10)
        .map(
          (id) => `${id}: ${statusOf(id) ?? 'no record'}, ${topicIds.has(id) ? 'on' : 'NOT on'} the topic`,
        ),
      ...(settleSeconds !== undefined && { settleSeconds }),
      notOnTopic: acked.filter((id) => !topicIds.has(id)).length,
      unacknowledgedOnTopic: loadIdsOnTopic.filter((id) => !ackedSet.has(id)).length,
      submissionsWithSeveralTasks: several.length,
      keyedSubmissionsWithSeveralTasks: keyedSeveral.length,
      severalTasksExamples: keyedSeveral.slice(0, 5).map(([tag, set]) => {
        const submission = byTag.get(tag)!;
        // Times from the start of the load, as on the scenario's timeline.
        const at = (ms: number) => `+${((ms - load.startedAtMs) / 1000).toFixed(1)} s`;
        const attempts = describeAttempts(submission.attempts, at);
        const tasks = [...set].map(
          (id) =>
            `${id.slice(0, 8)} (accepted ${at(enqueuedAt.get(id)!)}${submission.ids.includes(id) ? ', given to the client' : ''})`,
        );
        return `${tasks.join(' and ')}; attempts: ${attempts}`;
      }),
      submissionsWithSeveralIds: load.submissions.filter((s) => s.ids.length > 1).length,
      handlerCompletions,
      duplicates: succeeded.filter((id) => completions(id) > 1).length,
      rerunsAfterSuccess: reruns.length,
      rerunExamples: reruns.slice(0, 10).map((id) => {
        const finishedAt = records.get(id)?.finishedAt;
        const late = startsAfter(runs.get(id), finishedAt)[0]!;
        return `${id}: succeeded at ${new Date(finishedAt!).toISOString()}, started again at ${new Date(late.at).toISOString()} (pid ${late.pid})`;
      }),
      poisonOnTopic,
      lastFinished: acked
        .filter((id) => records.get(id)?.finishedAt !== undefined)
        .sort((a, b) => records.get(b)!.finishedAt! - records.get(a)!.finishedAt!)
        .slice(0, 1)
        .map((id) => {
          const at = (ms: number) => `+${((ms - load.startedAtMs) / 1000).toFixed(1)} s`;
          return (
            `${id.slice(0, 8)} (partition ${partitionOf.get(id) ?? '?'}, accepted ${at(enqueuedAt.get(id) ?? 0)}, ` +
            `finished ${at(records.get(id)!.finishedAt!)}, attempt ${records.get(id)!.attempts})`
          );
        }),
    };
  } finally {
    redis.disconnect();
  }
}
