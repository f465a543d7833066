import { Router } from 'express';
import type { KafkaInspector, PartitionLag } from '../../shared/kafka/inspector';
import type { KafkaNames } from '../../shared/kafka/names';
import type { DeadLetterStore } from '../../shared/redis/dead-letter-store';
import type { TaskStore } from '../../shared/redis/task-store';
import { requireScope } from '../auth';

export interface StatsRoutesDeps {
  store: TaskStore;
  inspector: Pick<KafkaInspector, 'lag'>;
  names: KafkaNames;
  deadLetters: Pick<DeadLetterStore, 'count'>;
}

/**
 * GET /v1/stats: is the backlog being absorbed? Counts, the oldest wait, the workers' lag, and how
 * many tasks were given up on. Queue-wide numbers tell one tenant about the others' volume, so
 * they are for `admin` keys.
 */
export function statsRouter(deps: StatsRoutesDeps): Router {
  const router = Router();
  router.get('/v1/stats', requireScope('admin'), async (_req, res) => {
    res.json(await readStats(deps));
  });
  return router;
}

/** The body of GET /v1/stats; GET /v1/fleet shows it too. */
export async function readStats({ store, inspector, names, deadLetters }: StatsRoutesDeps) {
  const [counts, oldest, lanes, deadLetterCount] = await Promise.all([
    store.counts(),
    store.oldestWaitingSince(),
    Promise.all(names.lanes.map((lane) => inspector.lag(lane.group, lane.topic))),
    deadLetters.count(),
  ]);
  const total = (partitions: PartitionLag[]) => partitions.reduce((sum, p) => sum + p.lag, 0);
  const partitions = names.lanes.flatMap((lane, i) => lanes[i]!.map((p) => ({ lane: lane.name, ...p })));
  return {
    counts,
    oldestWaitingAgeSeconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : null,
    lag: {
      total: total(partitions),
      byLane: Object.fromEntries(names.lanes.map((lane, i) => [lane.name, total(lanes[i]!)])),
      partitions,
    },
    deadLetters: deadLetterCount,
  };
}
