import { setTimeout as sleep } from 'node:timers/promises';
import { Router } from 'express';
import { ApiError } from '../../shared/errors';
import { countsSample, DrainMeter } from '../../shared/kubernetes/drain';
import {
  FleetError,
  type FleetFailure,
  type FleetSource,
  type FleetView,
} from '../../shared/kubernetes/fleet';
import { requireScope } from '../auth';
import { readStats, type StatsRoutesDeps } from './stats';

export interface FleetRoutesDeps extends StatsRoutesDeps {
  /** Reads the workers' Deployment, ScaledObject and HPA; absent: the fleet view is off. */
  fleet?: FleetSource | null;
}

/** How long the first request waits for a second sample of the counts, so it has a drain rate. */
const FIRST_SAMPLE_MS = 1000;

/** The error code each failure answers with (502: the Kubernetes API is what failed). */
const CODES: Record<FleetFailure, string> = {
  unreachable: 'kubernetes_unreachable',
  forbidden: 'kubernetes_forbidden',
  'not-found': 'fleet_object_not_found',
  'no-config': 'kubernetes_error',
  error: 'kubernetes_error',
};

/**
 * GET /v1/fleet: the workers as Kubernetes runs them beside the queue they drain; the same view
 * as `spillway fleet`. The drain rate compares the finished counts with the oldest sample of the
 * last minute, so only the first request in a minute waits for a second sample.
 */
export function fleetRouter(deps: FleetRoutesDeps): Router {
  const router = Router();
  const meter = new DrainMeter();
  router.get('/v1/fleet', requireScope('admin'), async (_req, res) => {
    const { fleet } = deps;
    if (!fleet) {
      throw new ApiError(
        404,
        'fleet_unavailable',
        'the fleet view is off: set FLEET_NAMESPACE and FLEET_WORKER_DEPLOYMENT (the Helm chart does with fleet.enabled=true)',
      );
    }
    if (!meter.hasBaseline(Date.now())) {
      const first = await readStats(deps);
      meter.add(countsSample(first, Date.now()), first.lag.total);
      await sleep(FIRST_SAMPLE_MS);
    }
    const readKube = fleet.read().catch((err: unknown) => {
      if (!(err instanceof FleetError)) throw err;
      throw new ApiError(502, CODES[err.reason], err.message);
    });
    const [kube, queue] = await Promise.all([readKube, readStats(deps)]);
    const at = Date.now();
    const view: FleetView = {
      at: new Date(at).toISOString(),
      ...kube,
      queue,
      drain: meter.add(countsSample(queue, at), queue.lag.total),
    };
    res.json(view);
  });
  return router;
}
