import Redis from 'ioredis';
import { RedisKeys } from '../../services/shared/redis/keys';
import { readRecords } from '../reconcile';
import { readRuns } from '../runs';
import type { ScenarioDefinition } from '../scenario';
import { seconds } from '../stats';
import { redisOutage } from './common';

/**
 * Every task fails its first attempt and is retried (through a delay tier) while Redis is killed
 * and started again: the `retrying` writes, the retries' releases and the second attempts all
 * meet the outage. Each task must end `succeeded` on exactly its second attempt: no retry lost,
 * none run twice.
 */
export function redisOutageRetriesScenario(): ScenarioDefinition {
  const t = { down: 0, up: 0 };
  return {
    id: 'redis-outage-retries',
    title: 'Redis stopped while tasks are being retried',
    fault:
      'every task fails its first attempt; the private redis-server is killed, left down, then started again',
    expectNoDuplicates: true,
    deployment: { workers: 2, concurrency: 8 },
    task: (seq, tag) => ({
      type: 'counted',
      payload: { ms: 10 + ((seq * 37) % 51), tag, failAttempts: 1 },
      maxAttempts: 3,
    }),
    async inject(ctx) {
      const { deployment } = ctx;
      Object.assign(t, await redisOutage(ctx));
      await Promise.allSettled([deployment.api, ...deployment.workers].map((p) => p.ready(60_000)));
      ctx.mark('processes ready again');
    },
    async verify(ctx, ledger) {
      const { deployment, load } = ctx;
      const ids = load.acknowledgedIds();
      const runs = readRuns(deployment.runsDir);
      const redis = new Redis(deployment.cluster.redisUrl);
      const records = await readRecords(redis, new RedisKeys(deployment.queue), ids).finally(() =>
        redis.disconnect(),
      );
      const notSecond = ids.filter((id) => {
        const r = records.get(id);
        return r?.status !== 'succeeded' || r.attempts !== 2;
      });
      // A first attempt that ran again (its `retrying` write met the outage and the task was redelivered).
      const failedTwice = ids.filter(
        (id) => (runs.get(id)?.filter((e) => e.event === 'fail').length ?? 0) > 1,
      );
      ctx.figures.push(
        { label: 'Redis down', value: seconds((t.up - t.down) / 1000) },
        { label: 'tasks (each fails its first attempt)', value: ids.length },
        { label: 'not succeeded on exactly their second attempt', value: notSecond.length },
        { label: 'first attempts run more than once', value: failedTwice.length },
        {
          label: 'every acknowledged task finished, after the load stopped',
          value: seconds(ledger.settleSeconds),
        },
      );
      ctx.checks.push({
        name: 'every task succeeded on its second attempt (no retry lost or added)',
        ok: notSecond.length === 0 && ids.length > 0,
        kind: 'guarantee',
        ...(notSecond.length > 0 && {
          detail: notSecond
            .slice(0, 3)
            .map((id) => `${id}: ${records.get(id)?.status} after ${records.get(id)?.attempts}`)
            .join('; '),
        }),
      });
      ctx.notes.push(
        'A first attempt may run again only if the worker running it lost its partition; nothing here kills a ' +
          'worker, so "first attempts run more than once" is reported, and a task ending on a third attempt would fail the check.',
      );
    },
  };
}
