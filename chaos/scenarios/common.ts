import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Attempt } from '../load';
import { max, ms, quantile } from '../stats';
import type { Figure, ScenarioContext } from '../scenario';

/** Attempts sent at or after `from` whose answer came by `to`. */
export function attemptsWithin(attempts: Attempt[], from: number, to: number): Attempt[] {
  return attempts.filter((a) => a.at >= from && a.at + a.ms <= to);
}

/** Count, p50, p99 and max response time of a set of attempts, as report figures. */
export function latencyFigures(label: string, attempts: Attempt[]): Figure[] {
  const times = attempts.map((a) => a.ms);
  return [
    { label: `${label}: answers`, value: attempts.length },
    {
      label: `${label}: response time p50 / p99 / max`,
      value: `${ms(quantile(times, 0.5))} / ${ms(quantile(times, 0.99))} / ${ms(max(times))}`,
    },
  ];
}

/** Answers by HTTP status (0: no answer), as `503 × 120, 202 × 3`. */
export function statusBreakdown(attempts: Attempt[]): string {
  const counts = new Map<string, number>();
  for (const a of attempts) {
    const key = a.status === 0 ? `no answer (${a.code ?? 'error'})` : String(a.status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([status, n]) => `${status} × ${n}`).join(', ') || 'none';
}

/**
 * Submits one body as a careful client does (Idempotency-Key, retried on 503, 409 in progress
 * and refused connections) and returns the response body of the first 2xx.
 */
export async function submitCarefully(
  url: string,
  path: string,
  body: unknown,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const key = `chaos-${randomUUID()}`;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      // 201: a batch created; 202 or a 200 replay: tasks accepted.
      if (res.status >= 200 && res.status < 300) return JSON.parse(text) as Record<string, unknown>;
      last = `${res.status} ${text.slice(0, 200)}`;
      // A 409 other than "in progress" (a sealed batch, say) will not change on a retry.
      if (res.status < 500 && !(res.status === 409 && text.includes('in_progress'))) break;
    } catch (err) {
      last = String(err);
    }
    await sleep(500);
  }
  throw new Error(`POST ${path} not accepted: ${last}`);
}

/** Kills the cluster's Redis, leaves it down for options.redisOutage.downMs, starts it again. */
export async function redisOutage(ctx: ScenarioContext): Promise<{ down: number; up: number }> {
  const redis = ctx.deployment.cluster.redis;
  await redis.stop();
  const down = Date.now();
  ctx.mark('Redis killed');
  await sleep(ctx.options.redisOutage.downMs);
  await redis.start();
  const up = Date.now();
  ctx.mark('Redis started');
  return { down, up };
}

/** How long the processes get to be ready again once a broker outage ends. */
export const REJOIN_TIMEOUT_MS = 120_000;

/**
 * Waits for the API and every worker to be ready again (they come back on their own, without a
 * restart) and marks the outcome: ms from `since` to each one's readiness, and those not ready in
 * time. A dead consumer is its own check (every scenario makes it); others are the scenario's.
 */
export async function everyProcessReady(
  ctx: ScenarioContext,
  since: number,
): Promise<{ readyAfter: Map<string, number>; notReady: string[] }> {
  const readyAfter = new Map<string, number>();
  const notReady: string[] = [];
  await Promise.all(
    [ctx.deployment.api, ...ctx.deployment.workers].map((p) =>
      p.ready(REJOIN_TIMEOUT_MS).then(
        () => readyAfter.set(p.name, Date.now() - since),
        (err: unknown) => (p.deadConsumer ? undefined : notReady.push(`${p.name}: ${String(err)}`)),
      ),
    ),
  );
  ctx.mark(notReady.length === 0 ? 'every process ready again' : `${notReady.length} process(es) not ready`);
  return { readyAfter, notReady };
}
