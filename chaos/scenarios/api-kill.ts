import { setTimeout as sleep } from 'node:timers/promises';
import type { ScenarioDefinition } from '../scenario';
import { max, seconds } from '../stats';
import { statusBreakdown } from './common';

/**
 * `kill -9` of the API in the middle of the load, and a new API process on the same port. Every
 * id a client was given must be on the tasks topic and finish. Requests in flight at the kill get
 * no answer; their careful clients retry with the same Idempotency-Key.
 */
/** How long the burst runs before the kill: its requests are then at every stage of their way. */
const BURST_HEAD_START_MS = 40;

export function apiKillScenario(): ScenarioDefinition {
  const t = { killed: 0, restarted: 0, ready: 0 };
  return {
    id: 'api-kill',
    title: '`kill -9` of the API mid-load',
    fault:
      'the API process is killed with SIGKILL under load, 40 ms into a burst of a second of submissions; a new one ' +
      'starts on the same port',
    expectNoDuplicates: true,
    deployment: { workers: 2, concurrency: 8 },
    clientDrainMs: (options) => options.apiKill.clientDrainMs,
    async inject(ctx) {
      const { deployment, options } = ctx;
      const victim = deployment.api;
      // A second's worth of submissions at once, so the kill surely finds requests mid-way,
      // some of them past their Kafka acknowledgement and before their answer.
      ctx.load.burst(options.ratePerSec);
      await sleep(BURST_HEAD_START_MS);
      await victim.kill();
      t.killed = Date.now();
      ctx.mark(`kill -9 ${victim.name}`);
      await sleep(options.apiKill.downMs);
      const replacement = deployment.startApi();
      t.restarted = Date.now();
      ctx.mark(`${replacement.name} started`);
      await replacement.ready(60_000);
      t.ready = Date.now();
      ctx.mark(`${replacement.name} ready`);
    },
    async verify(ctx, ledger) {
      const { load } = ctx;
      // Submissions whose attempt was on the wire at the kill: sent before it, answered by nothing.
      const cut = load.submissions.filter((s) => s.attempts.some((a) => a.at <= t.killed && a.status === 0));
      const blocked = load.submissions.filter((s) =>
        s.attempts.some((a) => a.at >= t.ready && a.code === 'idempotency_request_in_progress'),
      );
      const resolvedAfter = blocked
        .filter((s) => s.acknowledgedAt !== undefined)
        .map((s) => (s.acknowledgedAt! - t.ready) / 1000);
      const replays = cut.filter((s) => s.attempts.some((a) => a.status === 200)).length;
      ctx.figures.push(
        { label: 'API down (kill → new process ready)', value: seconds((t.ready - t.killed) / 1000) },
        { label: 'requests cut off by the kill (no answer)', value: cut.length },
        {
          label: 'their retries',
          value: statusBreakdown(cut.flatMap((s) => s.attempts.filter((a) => a.at > t.killed))),
        },
        { label: 'cut-off submissions answered by a replay (200, same id)', value: replays },
        {
          label: 'keys still claimed by the dead API (409 in progress after the restart)',
          value: blocked.length,
        },
        {
          label: 'those keys acknowledged after the restart, at the latest',
          value: resolvedAfter.length > 0 ? seconds(max(resolvedAfter)) : 'n/a',
        },
        { label: 'submissions given up by their client (never acknowledged)', value: ledger.gaveUp },
        { label: 'tasks on the topic whose id no client received', value: ledger.unacknowledgedOnTopic },
        { label: 'submissions that became two tasks', value: ledger.submissionsWithSeveralTasks },
        {
          label: 'every acknowledged task finished, after the load stopped',
          value: seconds(ledger.settleSeconds),
        },
      );
      ctx.notes.push(
        'An Idempotency-Key is claimed in Redis before the task is sent to Kafka and completed after. A key whose ' +
          "API died in between answers 409 in progress until the claim's lease runs out (PUBLISH_TIMEOUT_MS + 10 s); " +
          'then a retry takes the claim over with the seed the dead process derived its task ids from, so if that ' +
          'process had already put the task on Kafka, the retry publishes the same id again, not a second task. ' +
          '"Submissions that became two tasks" above counts any that did.',
      );
      if (blocked.length > 0 && ledger.gaveUp > 0) {
        ctx.notes.push(
          `${ledger.gaveUp} submission(s) stopped retrying before their key's lease ran out (the client's patience ` +
            'in this run is shorter than the lease); they were never acknowledged, so they are not owed.',
        );
      }
    },
  };
}
