import { Router } from 'express';
import { errorMessage } from '../errors';
import { withTimeout } from '../timeout';

/** One dependency /readyz checks; `check` rejects when the dependency cannot be used. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface MetricsSource {
  contentType: string;
  text(): Promise<string>;
}

/**
 * /healthz (the process answers), /readyz (every dependency answers, checked in parallel) and
 * /metrics. Unauthenticated on purpose: probes and scrapers carry no API key.
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
          return [probe.name, 'ok'] as const;
        } catch (err) {
          return [probe.name, errorMessage(err)] as const;
        }
      }),
    );
    const ready = results.every(([, outcome]) => outcome === 'ok');
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results) });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.text());
  });
  return router;
}
