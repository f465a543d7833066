import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { RedisKeys } from '../../services/shared/redis/keys';
import { readRecords } from '../reconcile';
import { readRuns } from '../runs';
import type { ScenarioDefinition } from '../scenario';
import { seconds } from '../stats';
import { everyProcessReady, REJOIN_TIMEOUT_MS } from './common';

/** Every load task waits 2 to 5 s before it is due: most of them wait on a delay tier. */
const delayOf = (seq: number) => 2000 + ((seq * 37) % 4) * 1000;

/**
 * The broker stops while delayed tasks wait on their delay tiers, and some of them are cancelled
 * while it is down (a cancellation needs only Redis). Once it is back, every acknowledged task
 * must run once it is due, and no cancelled task may run at all.
 */
export function delayedKafkaOutageScenario(): ScenarioDefinition {
  const cancelled: string[] = [];
  const t = { down: 0, up: 0 };
  let notReady: string[] = [];
  return {
    id: 'delayed-kafka-outage',
    title: 'Kafka stopped while delayed tasks wait',
    fault:
      'every task delayed 2-5 s; the broker is stopped, some waiting tasks are cancelled meanwhile, then it is started',
    expectNoDuplicates: false,
    deployment: { workers: 2, concurrency: 8, apiEnv: { PUBLISH_TIMEOUT_MS: '2000' } },
    task: (seq, tag) => ({
      type: 'counted',
      payload: { ms: 10 + ((seq * 37) % 51), tag },
      delayMs: delayOf(seq),
    }),
    clientDrainMs: (options) => options.kafkaOutage.clientDrainMs,
    async inject(ctx) {
      const kafka = ctx.deployment.cluster.kafka;
      const stopping = Date.now();
      ctx.mark('stopping Kafka');
      await kafka.stop();
      t.down = Date.now();
      ctx.mark('Kafka stopped');
      // Every other task acknowledged in the second before the stop: all wait at least 2 s more.
      const recent = ctx.load.submissions.filter(
        (s) => s.acknowledgedAt !== undefined && s.acknowledgedAt > stopping - 1000 && s.ids.length > 0,
      );
      const answers = await Promise.all(
        recent
          .filter((_, i) => i % 2 === 0)
          .map(async (s) => {
            const res = await fetch(`${ctx.deployment.apiUrl}/v1/tasks/${s.ids[0]}`, { method: 'DELETE' });
            return { id: s.ids[0]!, status: res.status };
          }),
      );
      cancelled.push(...answers.filter((a) => a.status === 200).map((a) => a.id));
      ctx.mark(`${cancelled.length} waiting tasks cancelled (${answers.length} tried)`);
      await sleep(ctx.options.kafkaOutage.downMs);
      ctx.mark('starting Kafka');
      await kafka.start();
      t.up = Date.now();
      ctx.mark('Kafka answering');
      ({ notReady } = await everyProcessReady(ctx, t.up));
    },
    async verify(ctx, ledger) {
      const { deployment } = ctx;
      const runs = readRuns(deployment.runsDir);
      const ranAnyway = cancelled.filter((id) => (runs.get(id)?.length ?? 0) > 0);
      const redis = new Redis(deployment.cluster.redisUrl);
      const records = await readRecords(redis, new RedisKeys(deployment.queue), cancelled).finally(() =>
        redis.disconnect(),
      );
      const stillCancelled = cancelled.filter((id) => records.get(id)?.status === 'cancelled');
      ctx.figures.push(
        { label: 'broker down', value: seconds((t.up - t.down) / 1000) },
        { label: 'waiting tasks cancelled while the broker was down', value: cancelled.length },
        { label: 'of them, a handler run', value: ranAnyway.length },
        {
          label: 'every acknowledged task finished, after the load stopped',
          value: seconds(ledger.settleSeconds),
        },
      );
      ctx.checks.push(
        {
          name: 'some waiting tasks were cancelled during the outage',
          ok: cancelled.length > 0,
          kind: 'guarantee',
        },
        {
          name: 'no cancelled task ran',
          ok: ranAnyway.length === 0,
          kind: 'guarantee',
          ...(ranAnyway.length > 0 && { detail: ranAnyway.slice(0, 3).join(', ') }),
        },
        {
          name: 'every cancelled task is still cancelled',
          ok: stillCancelled.length === cancelled.length,
          kind: 'guarantee',
          detail: `${stillCancelled.length} of ${cancelled.length}`,
        },
        {
          name: `every process ready again within ${REJOIN_TIMEOUT_MS / 1000} s of the broker answering`,
          ok: notReady.length === 0,
          kind: 'guarantee',
          ...(notReady.length > 0 && { detail: notReady.join('; ') }),
        },
      );
      ctx.notes.push(
        'Delayed tasks wait on the delay-tier topics; the scheduler releases them to the tasks topic when due, ' +
          'cancelled or not, and the worker finds the cancellation in the record and skips the run.',
      );
    },
  };
}
