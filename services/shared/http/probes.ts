import { Router } from 'express';
import { errorMessage } from '../errors';
import { withTimeout } from '../timeout';

/** One dependency /readyz checks; `check` rejects when the dependency cannot be used. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
  /**
   * Reported, but not a reason to leave the Service: the process still does its main job without
   * it (the API accepts tasks while Redis is down; only reads fail, with a 503 of their own).
   */
  degradesOnly?: boolean;
}

export interface MetricsSource {
  contentType: string;
  text(): Promise<string>;
}

/**
 * /healthz (the process answers), /readyz (every dependency answers, checked in parallel; those
 * that only degrade the service are reported without making it unready) and /metrics.
 * Unauthenticated on purpose: probes and scrapers carry no API key.
 */
export function probeRouter(
  checks: readonly ReadinessCheck[],
  metrics: MetricsSource,
  timeoutMs = 2000,
): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      checks.map(async (probe) => {
        try {
          await withTimeout(probe.check(), timeoutMs, probe.name);
          return [probe.name, 'ok', probe] as const;
        } catch (err) {
          return [probe.name, errorMessage(err), probe] as const;
        }
      }),
    );
    const ready = results.every(([, outcome, probe]) => outcome === 'ok' || probe.degradesOnly);
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not ready',
      checks: Object.fromEntries(results.map(([name, outcome]) => [name, outcome])),
    });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.text());
  });
  return router;
}
