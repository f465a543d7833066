import { setTimeout as sleep } from 'node:timers/promises';
import { mediumTask, type ScenarioDefinition } from '../scenario';
import { seconds } from '../stats';
import { attemptsWithin, latencyFigures, redisOutage, statusBreakdown } from './common';

interface Probe {
  /** When the probe was sent and when its answer came (epoch ms). */
  at: number;
  doneAt: number;
  name: string;
  ready: number;
}

/** Asks every process' /readyz once per second until stopped. */
function probeLoop(targets: () => { name: string; url: string }[]) {
  const answers: Probe[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      await Promise.all(
        targets().map(async ({ name, url }) => {
          const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) }).catch(
            () => undefined,
          );
          answers.push({ at, doneAt: Date.now(), name, ready: res?.status ?? 0 });
        }),
      );
      await sleep(1000);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return answers;
    },
  };
}

/**
 * Redis (append-only, so what it acknowledged survives) killed, left down, then started again on
 * its port. Nothing is restarted: the API and the workers must come back by themselves. Half of
 * the clients send an Idempotency-Key (which needs Redis), half do not.
 */
export function redisOutageScenario(): ScenarioDefinition {
  const t = { down: 0, up: 0 };
  const pids = new Map<string, number>();
  let probes: Probe[] = [];
  return {
    id: 'redis-outage',
    title: 'Redis stopped, then started',
    fault:
      'the private redis-server is killed, left down, then started again on its port with its append-only file',
    expectNoDuplicates: true,
    deployment: { workers: 2, concurrency: 8 },
    keyedShare: 0.5,
    task: mediumTask,
    async inject(ctx) {
      const { deployment } = ctx;
      for (const p of deployment.history) pids.set(p.name, p.pid);
      const prober = probeLoop(() => [deployment.api, ...deployment.workers]);
      Object.assign(t, await redisOutage(ctx));
      // Not ready in time is this scenario's finding (the probes show it), not a reason to stop.
      const ready = await Promise.allSettled(
        [deployment.api, ...deployment.workers].map((p) => p.ready(60_000)),
      );
      ctx.mark(
        ready.every((r) => r.status === 'fulfilled')
          ? 'every process ready again'
          : 'not every process ready',
      );
      await sleep(2000);
      probes = await prober.stop();
    },
    async verify(ctx, ledger) {
      const { deployment, load } = ctx;
      const keyed = load.submissions.filter((s) => s.key).flatMap((s) => s.attempts);
      const unkeyed = load.submissions.filter((s) => !s.key).flatMap((s) => s.attempts);
      const keyedDown = attemptsWithin(keyed, t.down, t.up);
      const unkeyedDown = attemptsWithin(unkeyed, t.down, t.up);
      const readyAgain = (name: string) =>
        probes.find((p) => p.name === name && p.at >= t.up && p.ready === 200)?.at;
      // Sent and answered while Redis was down (a probe queued until Redis came back says nothing).
      const during = probes.filter((p) => p.at > t.down && p.doneAt < t.up);
      const readiness = ['api', 'worker'].map((service) => {
        const answers = during
          .filter((p) => p.name.startsWith(service))
          .map((p) => ({ at: p.at, ms: 0, status: p.ready }));
        return `${service}: ${statusBreakdown(answers)}`;
      });
      const restarted = deployment.history.filter((p) => p.pid !== pids.get(p.name) || !p.alive);
      const apiBack = readyAgain(deployment.api.name);
      const workersBack = deployment.workers.map((w) => readyAgain(w.name));
      ctx.figures.push(
        { label: 'Redis down', value: seconds((t.up - t.down) / 1000) },
        { label: 'keyed submissions while down', value: statusBreakdown(keyedDown) },
        { label: 'unkeyed submissions while down', value: statusBreakdown(unkeyedDown) },
        ...latencyFigures('every answer while Redis was down', [...keyedDown, ...unkeyedDown]),
        { label: '/readyz answers while down (0: no answer in 3 s)', value: readiness.join('; ') },
        {
          label: 'API ready again after Redis started',
          value: apiBack ? seconds((apiBack - t.up) / 1000) : 'not seen',
        },
        {
          label: 'workers ready again after Redis started (slowest)',
          value: workersBack.every((at) => at !== undefined)
            ? seconds((Math.max(...(workersBack as number[])) - t.up) / 1000)
            : 'not seen',
        },
        { label: 'process restarts', value: restarted.length },
        {
          label: 'every acknowledged task finished, after the load stopped',
          value: seconds(ledger.settleSeconds),
        },
      );
      // A request still running when Redis came back may hold its key for PUBLISH_TIMEOUT_MS
      // more; a 409 "in progress" later than that answers for a request that no longer exists.
      const staleAfter = t.up + 2000 + 1000;
      const stuck = load.submissions.filter(
        (s) =>
          s.key && s.attempts.some((a) => a.at >= staleAfter && a.code === 'idempotency_request_in_progress'),
      );
      const blockedFor = stuck.map((s) => ((s.acknowledgedAt ?? s.attempts.at(-1)!.at) - t.up) / 1000);
      ctx.figures.push(
        {
          label: 'keyed submissions refused with 409 "in progress" > 3 s after Redis was back',
          value: `${stuck.length} (${stuck.filter((s) => s.gaveUp).length} gave up)`,
        },
        {
          label: 'those refused until (after Redis was back, longest)',
          value: blockedFor.length > 0 ? seconds(Math.max(...blockedFor)) : 'n/a',
        },
      );
      ctx.checks.push(
        {
          name: 'no Idempotency-Key left claimed by a request that had already failed',
          ok: stuck.length === 0,
          kind: 'guarantee',
          ...(stuck.length > 0 && {
            detail:
              `${stuck.length} keyed submissions got 409 idempotency_request_in_progress for up to ` +
              `${seconds(Math.max(...blockedFor))} after Redis was back, although their earlier attempts had ` +
              'all been answered 503',
          }),
        },
        {
          name: 'the API and the workers recovered without a restart',
          ok: restarted.length === 0 && apiBack !== undefined && workersBack.every((at) => at !== undefined),
          kind: 'guarantee',
        },
        {
          name: 'unkeyed submissions were accepted while Redis was down (the task is safe in Kafka)',
          ok: unkeyedDown.some((a) => a.status === 202),
          kind: 'guarantee',
          detail: statusBreakdown(unkeyedDown),
        },
      );
      ctx.notes.push(
        'Statuses were read straight from Redis every 250 ms (rounds while it was down are skipped) and every change ' +
          'checked against the order scheduled < queued < running < retrying < finished within an attempt, attempts ' +
          'never decreasing, a finished status never changing and a record never vanishing. ' +
          'A keyed submission needs Redis to claim its Idempotency-Key, so while Redis is down it is refused with ' +
          '503 and the careful client retries it after the outage; an unkeyed one is accepted (its record is written ' +
          'by the worker once Redis is back), but a client that retries an unkeyed 503 may create the task twice.',
      );
    },
  };
}
