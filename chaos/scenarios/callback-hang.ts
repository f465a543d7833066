import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { RedisKeys } from '../../services/shared/redis/keys';
import { readRecords, waitFinished } from '../reconcile';
import type { ScenarioDefinition } from '../scenario';
import { seconds } from '../stats';
import { submitCarefully } from './common';

const WORKERS = 2;
const CONCURRENCY = 4;
/** Tasks whose callbacks go to the receiver that hangs: eight per slot. */
const HANGING_TASKS = 8 * WORKERS * CONCURRENCY;
/** The unaffected tasks' completion rate during the hang, as a share of theirs before it. */
const MIN_RATE_SHARE = 0.8;

/**
 * One tenant's callback receiver hangs (accepts the connection, never answers) while a burst of
 * its tasks finishes, under the steady load of everyone else's tasks. The steady tasks must keep
 * finishing at their usual rate (callbacks wait in the outbox, outside the task slots); once the
 * receiver answers again, every one of the tenant's callbacks is delivered.
 */
export function callbackHangScenario(): ScenarioDefinition {
  const hangingIds: string[] = [];
  const window = { before: [0, 0], during: [0, 0] };
  let stuckPeak = 0;
  let deliveredAfter: number | undefined;
  return {
    id: 'callback-hang',
    title: "One tenant's callback receiver hangs",
    fault: `${HANGING_TASKS} tasks whose callbacks go to a receiver that never answers, under the steady load`,
    expectNoDuplicates: true,
    deployment: {
      workers: WORKERS,
      concurrency: CONCURRENCY,
      apiEnv: { CALLBACK_ALLOW_CIDRS: '127.0.0.0/8' },
      // An attempt may hang for 20 s: before the outbox, each held its task's slot all along.
      workerEnv: { CALLBACK_ALLOW_CIDRS: '127.0.0.0/8', CALLBACK_TIMEOUT_MS: '20000' },
    },
    async inject(ctx) {
      const stuck: ServerResponse[] = [];
      let answering = false;
      let open = 0;
      const receiver = createServer((req, res) => {
        req.resume();
        if (answering) {
          res.writeHead(200).end('ok');
          return;
        }
        stuck.push(res);
        stuckPeak = Math.max(stuckPeak, ++open);
        // The worker gave up on this attempt (its timeout), or the receiver let it go.
        res.on('close', () => open--);
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
      const redis = new Redis(ctx.deployment.cluster.redisUrl);
      try {
        const start = Date.now();
        window.before = [ctx.load.startedAtMs + 1000, start];
        const batch = await submitCarefully(ctx.deployment.apiUrl, '/v1/tasks/batch', {
          tasks: Array.from({ length: HANGING_TASKS }, (_, i) => ({
            type: 'counted',
            payload: { ms: 10, tag: `callback-${i}` },
            callbackUrl: url,
          })),
        });
        hangingIds.push(...(batch.results as { id: string }[]).map((r) => r.id));
        ctx.mark(`${hangingIds.length} tasks with a hanging callback receiver accepted`);
        const windowMs = ctx.options.quick ? 8000 : 20_000;
        await sleep(windowMs);
        window.during = [start + 1000, start + windowMs];
        answering = true;
        for (const res of stuck) res.destroy();
        ctx.mark('the receiver answers again');
        const keys = new RedisKeys(ctx.deployment.queue);
        await waitFinished(redis, keys, hangingIds, 30_000);
        // Delivered = the task's record holds a delivered callback outcome.
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const outcomes = await Promise.all(hangingIds.map((id) => redis.hget(keys.task(id), 'callback')));
          if (outcomes.every((o) => o !== null && JSON.parse(o).delivered === true)) {
            deliveredAfter = (Date.now() - start - windowMs) / 1000;
            break;
          }
          await sleep(500);
        }
        ctx.mark(deliveredAfter === undefined ? 'callbacks still undelivered' : 'every callback delivered');
      } finally {
        redis.disconnect();
        receiver.closeAllConnections();
        receiver.close();
      }
    },
    async verify(ctx, ledger) {
      const { deployment } = ctx;
      const hanging = new Set(hangingIds);
      const steadyIds = ctx.load.submissions.flatMap((s) => s.ids).filter((id) => !hanging.has(id));
      const redis = new Redis(deployment.cluster.redisUrl);
      const records = await readRecords(redis, new RedisKeys(deployment.queue), steadyIds).finally(() =>
        redis.disconnect(),
      );
      const rate = ([from, to]: number[]) => {
        const done = steadyIds.filter((id) => {
          const at = records.get(id)?.finishedAt;
          return at !== undefined && at >= from! && at < to!;
        }).length;
        return done / ((to! - from!) / 1000);
      };
      const before = rate(window.before);
      const during = rate(window.during);
      // Against the steady load's own rate, or what finished before the hang if that was less.
      const reference = Math.min(before, ctx.options.ratePerSec);
      const share = reference > 0 ? during / reference : NaN;
      ctx.figures.push(
        { label: 'tasks whose callback receiver hung', value: hangingIds.length },
        { label: 'most callbacks hanging at once (all workers)', value: stuckPeak },
        { label: 'other tasks finished per second, before the hang', value: before.toFixed(1) },
        {
          label: 'other tasks finished per second, while it hung',
          value: `${during.toFixed(1)} (${Math.round(share * 100)}%)`,
        },
        { label: 'every callback delivered, after the receiver answered', value: seconds(deliveredAfter) },
        {
          label: 'every acknowledged task finished, after the load stopped',
          value: seconds(ledger.settleSeconds),
        },
      );
      ctx.checks.push(
        {
          name: `the other tasks kept at least ${MIN_RATE_SHARE * 100}% of their completion rate while the receiver hung`,
          ok: share >= MIN_RATE_SHARE,
          kind: 'guarantee',
          detail: `${Math.round(share * 100)}%`,
        },
        {
          name: 'every callback was delivered once the receiver answered',
          ok: deliveredAfter !== undefined,
          kind: 'guarantee',
        },
        {
          name: `at most CALLBACK_PER_HOST (4) callbacks per worker hung at once`,
          ok: stuckPeak <= 4 * WORKERS,
          kind: 'guarantee',
          detail: `${stuckPeak}`,
        },
      );
      ctx.notes.push(
        'Callbacks wait in an outbox (a Redis stream) and are delivered outside the task slots, at most ' +
          'CALLBACK_PER_HOST at a time per worker to one host; a hanging receiver holds those places only.',
      );
    },
  };
}
