import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { RedisKeys } from '../../services/shared/redis/keys';
import { metricSum } from '../metrics';
import { readRecords, waitFinished } from '../reconcile';
import { readRuns } from '../runs';
import type { ScenarioDefinition } from '../scenario';
import { quantile, seconds } from '../stats';
import { submitCarefully } from './common';

const WORKERS = 2;
const CONCURRENCY = 4;

/**
 * Handlers that hang and ignore their abort signal (`hang` in tests/fixtures/chaos-handlers.js),
 * as many as there are slots, under the steady load. Each must time out, be abandoned a second
 * later and fail; after that, a burst of normal tasks must run at full concurrency on every
 * worker again: an abandoned handler does not keep its slot.
 */
export function hungHandlersScenario(): ScenarioDefinition {
  const hungIds: string[] = [];
  const burstIds: string[] = [];
  const peaks = new Map<string, number>();
  let hungFinished: number | undefined;
  let burstSeconds: number | undefined;
  return {
    id: 'hung-handlers',
    title: 'Handlers that hang and ignore their abort signal',
    fault: `one hung handler per slot (${WORKERS} workers × ${CONCURRENCY}), each with a timeout, under the steady load`,
    expectNoDuplicates: true,
    deployment: { workers: WORKERS, concurrency: CONCURRENCY },
    async inject(ctx) {
      const { deployment, options } = ctx;
      const { timeoutMs, burstTaskMs } = options.hang;
      const hung = await submitCarefully(deployment.apiUrl, '/v1/tasks/batch', {
        tasks: Array.from({ length: WORKERS * CONCURRENCY }, () => ({
          type: 'hang',
          payload: {},
          timeoutMs,
          maxAttempts: 1,
        })),
      });
      hungIds.push(...(hung.results as { id: string }[]).map((r) => r.id));
      ctx.mark(`${hungIds.length} hanging tasks accepted`);

      const redis = new Redis(deployment.cluster.redisUrl);
      const keys = new RedisKeys(deployment.queue);
      try {
        hungFinished = await waitFinished(redis, keys, hungIds, 60_000);
        ctx.mark('every hanging task finished');

        // The burst: three tasks per slot, each long enough for the slots to fill.
        const burst = await submitCarefully(deployment.apiUrl, '/v1/tasks/batch', {
          tasks: Array.from({ length: 3 * WORKERS * CONCURRENCY }, (_, i) => ({
            type: 'counted',
            payload: { ms: burstTaskMs, tag: `burst-${i}` },
          })),
        });
        burstIds.push(...(burst.results as { id: string }[]).map((r) => r.id));
        const burstStarted = Date.now();
        ctx.mark(`burst of ${burstIds.length} tasks accepted`);
        const sampling = (async () => {
          while (burstSeconds === undefined) {
            await Promise.all(
              deployment.workers.map(async (w) => {
                const inFlight = await metricSum(w.url, 'spillway_tasks_in_flight');
                if (!Number.isNaN(inFlight)) peaks.set(w.name, Math.max(peaks.get(w.name) ?? 0, inFlight));
              }),
            );
            await sleep(100);
          }
        })();
        const finished = await waitFinished(redis, keys, burstIds, 60_000);
        burstSeconds = finished === undefined ? NaN : (Date.now() - burstStarted) / 1000;
        await sampling;
        ctx.mark('burst finished');
      } finally {
        redis.disconnect();
      }
    },
    async verify(ctx) {
      const { deployment } = ctx;
      const redis = new Redis(deployment.cluster.redisUrl);
      const records = await readRecords(redis, new RedisKeys(deployment.queue), hungIds).finally(() =>
        redis.disconnect(),
      );
      const timedOut = hungIds.filter((id) => {
        const record = records.get(id);
        return record?.status === 'failed' && record.error?.includes('TimeoutError');
      });
      const runs = readRuns(deployment.runsDir);
      // From the handler's start to the record's `failed`: timeout + abandon grace + the writes.
      const toFailed = hungIds.flatMap((id) => {
        const hangAt = runs.get(id)?.find((e) => e.event === 'hang')?.at;
        const finishedAt = records.get(id)?.finishedAt;
        return hangAt && finishedAt ? [(finishedAt - hangAt) / 1000] : [];
      });
      const hangRuns = hungIds.reduce(
        (n, id) => n + (runs.get(id)?.filter((e) => e.event === 'hang').length ?? 0),
        0,
      );
      const abandoned = (
        await Promise.all(
          deployment.workers.map((w) => metricSum(w.url, 'spillway_handlers_abandoned_total')),
        )
      ).reduce((a, b) => a + b, 0);
      // The load has stopped and every task finished: nothing may still count as running.
      const inFlightAfter = await Promise.all(
        deployment.workers.map((w) => metricSum(w.url, 'spillway_tasks_in_flight')),
      );
      const fullEverywhere = deployment.workers.every((w) => peaks.get(w.name) === CONCURRENCY);
      ctx.figures.push(
        {
          label: 'hanging tasks (timeoutMs, maxAttempts 1)',
          value: `${hungIds.length} (${ctx.options.hang.timeoutMs} ms)`,
        },
        { label: 'failed with TimeoutError', value: timedOut.length },
        {
          label: 'handler start → failed, median / max',
          value: `${seconds(quantile(toFailed, 0.5))} / ${seconds(Math.max(0, ...toFailed))}`,
        },
        { label: 'hang handler runs (one attempt each)', value: hangRuns },
        { label: 'spillway_handlers_abandoned_total (all workers)', value: abandoned },
        { label: 'every hanging task finished, after submission', value: seconds(hungFinished) },
        {
          label: `burst afterwards: ${burstIds.length} tasks of ${ctx.options.hang.burstTaskMs} ms`,
          value: `${seconds(burstSeconds)} (${seconds((burstIds.length / (WORKERS * CONCURRENCY)) * (ctx.options.hang.burstTaskMs / 1000))} at full concurrency, with no other load)`,
        },
        {
          label: 'peak tasks in flight per worker during the burst',
          value: deployment.workers
            .map((w) => `${w.name} ${peaks.get(w.name) ?? '?'}/${CONCURRENCY}`)
            .join(', '),
        },
        { label: 'tasks in flight once everything finished', value: inFlightAfter.join(', ') },
      );
      ctx.checks.push(
        {
          name: 'every hanging task timed out and failed',
          ok: timedOut.length === hungIds.length && hungIds.length > 0,
          kind: 'guarantee',
          detail: `${timedOut.length} of ${hungIds.length}`,
        },
        {
          name: 'every hanging handler was counted as abandoned',
          ok: abandoned === hungIds.length,
          kind: 'guarantee',
        },
        {
          name: 'every worker reached full concurrency after the hangs (no slot kept by an abandoned handler)',
          ok: fullEverywhere,
          kind: 'guarantee',
        },
        {
          name: 'no task counted in flight at the end',
          ok: inFlightAfter.every((n) => n === 0),
          kind: 'guarantee',
        },
      );
      ctx.notes.push(
        'A hanging handler is abandoned, not stopped: its promise (and whatever it holds) stays in the worker ' +
          'process for good. The slot and the task are released; memory the handler holds is not.',
      );
    },
  };
}
