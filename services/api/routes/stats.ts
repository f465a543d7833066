import { Router } from 'express';
import type { KafkaInspector } from '../../shared/kafka/inspector';
import type { KafkaNames } from '../../shared/kafka/names';
import type { TaskStore } from '../../shared/redis/task-store';

export interface StatsRoutesDeps {
  store: TaskStore;
  inspector: Pick<KafkaInspector, 'lag'>;
  names: KafkaNames;
}

/** GET /v1/stats: is the backlog being absorbed? Counts, the oldest wait, and the workers' lag. */
export function statsRouter({ store, inspector, names }: StatsRoutesDeps): Router {
  const router = Router();
  router.get('/v1/stats', async (_req, res) => {
    const [counts, oldest, partitions] = await Promise.all([
      store.counts(),
      store.oldestWaitingSince(),
      inspector.lag(names.workerGroup, names.tasksTopic),
    ]);
    res.json({
      counts,
      oldestWaitingAgeSeconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : null,
      lag: { total: partitions.reduce((sum, p) => sum + p.lag, 0), partitions },
    });
  });
  return router;
}
