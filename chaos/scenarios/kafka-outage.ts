import { setTimeout as sleep } from 'node:timers/promises';
import type { ScenarioDefinition } from '../scenario';
import { seconds } from '../stats';
import {
  attemptsWithin,
  everyProcessReady,
  latencyFigures,
  REJOIN_TIMEOUT_MS,
  statusBreakdown,
} from './common';

/** The API's PUBLISH_TIMEOUT_MS in the deployment: the bound a refused submission should meet. */
const PUBLISH_TIMEOUT_MS = 2000;
/** Room for the HTTP round trip on a busy two-core machine. */
const ANSWER_BOUND_MS = PUBLISH_TIMEOUT_MS + 1500;

/**
 * The broker stopped (a clean shutdown, as a rolling broker restart does) for a while, then
 * started again with its data. While it is down the API must refuse with 503 in bounded time and
 * hand out no new id; once it is back, everything acknowledged before must still complete.
 */
export function kafkaOutageScenario(): ScenarioDefinition {
  const t = { stopBegin: 0, down: 0, startBegin: 0, up: 0 };
  let readyAfter = new Map<string, number>();
  let notReady: string[] = [];
  return {
    id: 'kafka-outage',
    title: 'Kafka stopped, then started',
    fault: 'the private broker is stopped (SIGTERM, clean shutdown), left down, then started with its data',
    expectNoDuplicates: false,
    deployment: { workers: 2, concurrency: 8, apiEnv: { PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS) } },
    clientDrainMs: (options) => options.kafkaOutage.clientDrainMs,
    async inject(ctx) {
      const kafka = ctx.deployment.cluster.kafka;
      t.stopBegin = Date.now();
      ctx.mark('stopping Kafka');
      await kafka.stop();
      t.down = Date.now();
      ctx.mark('Kafka stopped');
      await sleep(ctx.options.kafkaOutage.downMs);
      t.startBegin = Date.now();
      ctx.mark('starting Kafka');
      await kafka.start();
      t.up = Date.now();
      ctx.mark('Kafka answering');
      // Waited for so the cool-down measures steady state. One that does not come back is a
      // finding, not a reason to stop the scenario.
      ({ readyAfter, notReady } = await everyProcessReady(ctx, t.up));
    },
    async verify(ctx, ledger) {
      const attempts = ctx.load.attempts();
      const duringOutage = attemptsWithin(attempts, t.down, t.startBegin);
      const refused = duringOutage.filter((a) => a.status === 503);
      const created = duringOutage.filter((a) => a.status === 202);
      const replayed = duringOutage.filter((a) => a.status === 200);
      const firstAccepted = ctx.load.submissions
        .flatMap((s) => s.attempts)
        .filter((a) => a.status === 202 && a.at >= t.up)
        .map((a) => a.at + a.ms)
        .sort((a, b) => a - b)[0];
      const slowest = Math.max(0, ...refused.map((a) => a.ms));
      ctx.figures.push(
        { label: 'broker down (stopped → start begun)', value: seconds((t.startBegin - t.down) / 1000) },
        { label: 'clean broker shutdown took', value: seconds((t.down - t.stopBegin) / 1000) },
        { label: 'broker start took (JVM start to answering)', value: seconds((t.up - t.startBegin) / 1000) },
        { label: 'answers while the broker was down', value: statusBreakdown(duringOutage) },
        ...latencyFigures('503 while the broker was down', refused),
        { label: 'new ids (202) handed out while the broker was down', value: created.length },
        { label: 'replays (200) of keys accepted before the outage', value: replayed.length },
        {
          label: 'first 202 after the broker answered',
          value: firstAccepted === undefined ? 'none' : seconds((firstAccepted - t.up) / 1000),
        },
        {
          label: 'ready again after the broker answered (API, workers: consumer groups rejoined)',
          value: [...readyAfter].map(([name, ms]) => `${name} ${seconds(ms / 1000)}`).join(', ') || 'none',
        },
        {
          label: 'every acknowledged task finished, after the load stopped',
          value: seconds(ledger.settleSeconds),
        },
        {
          label: 'tasks that landed without a client being given their id',
          value: ledger.unacknowledgedOnTopic,
        },
        { label: 'submissions that became two tasks', value: ledger.submissionsWithSeveralTasks },
      );
      ctx.checks.push(
        {
          name: 'no 202 while the broker was down',
          ok: created.length === 0,
          kind: 'guarantee',
          ...(created.length > 0 && { detail: `${created.length} answers 202` }),
        },
        {
          name: 'submissions were refused with 503 while the broker was down',
          ok: refused.length > 0,
          kind: 'guarantee',
        },
        {
          name: `every 503 within PUBLISH_TIMEOUT_MS + 1.5 s (${ANSWER_BOUND_MS} ms)`,
          ok: slowest <= ANSWER_BOUND_MS,
          kind: 'timing',
          detail: `slowest ${Math.round(slowest)} ms`,
        },
        {
          name: 'the API accepted again after the broker came back',
          ok: firstAccepted !== undefined,
          kind: 'guarantee',
        },
        {
          name: `every process ready again within ${REJOIN_TIMEOUT_MS / 1000} s of the broker answering, without a restart`,
          ok: notReady.length === 0,
          kind: 'guarantee',
          ...(notReady.length > 0 && { detail: notReady.join('; ') }),
        },
      );
      ctx.notes.push(
        `The API ran with PUBLISH_TIMEOUT_MS=${PUBLISH_TIMEOUT_MS}. "While down" is from the broker process' exit to ` +
          'the start of the next one; answers during its clean shutdown and its JVM start are not counted there. ' +
          'A submission refused while its send was already on the wire may still land once the broker is back ' +
          '(kafkajs retries it): such a task runs although its client only heard 503. A client that retries with ' +
          'the same Idempotency-Key is given that task: its ids derive from a seed kept with the key, so even a ' +
          'retry after Kafka never confirmed the first send publishes the same id again, which the workers run once.',
      );
    },
  };
}
