import { Router } from 'express';
import type { KafkaInspector } from '../../shared/kafka/inspector';
import type { KafkaNames } from '../../shared/kafka/names';
import type { DeadLetterStore } from '../../shared/redis/dead-letter-store';
import type { TaskStore } from '../../shared/redis/task-store';

export interface StatsRoutesDeps {
  store: TaskStore;
  inspector: Pick<KafkaInspector, 'lag'>;
  names: KafkaNames;
  deadLetters: Pick<DeadLetterStore, 'count'>;
}

/**
 * GET /v1/stats: is the backlog being absorbed? Counts, the oldest wait, the workers' lag, and how
 * many tasks were given up on.
 */
export function statsRouter({ store, inspector, names, deadLetters }: StatsRoutesDeps): Router {
  const router = Router();
  router.get('/v1/stats', async (_req, res) => {
    const [counts, oldest, partitions, deadLetterCount] = await Promise.all([
      store.counts(),
      store.oldestWaitingSince(),
      inspector.lag(names.workerGroup, names.tasksTopic),
      deadLetters.count(),
    ]);
    res.json({
      counts,
      oldestWaitingAgeSeconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : null,
      lag: { total: partitions.reduce((sum, p) => sum + p.lag, 0), partitions },
      deadLetters: deadLetterCount,
    });
  });
  return router;
}
