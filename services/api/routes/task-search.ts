import { Router } from 'express';
import { ApiError } from '../../shared/errors';
import { InvalidTaskCursorError, type TaskIndex, type TaskSummary } from '../../shared/redis/task-index';
import { requireScope } from '../auth';
import { LISTING_PARAMETERS, parsePageLimit, parseTaskFilter } from '../task-filter';

export interface TaskSearchDeps {
  /** The listing's indexes; absent (TASK_INDEXES=false): GET /v1/tasks answers 404. */
  taskIndex?: TaskIndex | undefined;
}

/** GET /v1/tasks: the caller's tasks, newest first, filtered (task-filter.ts), paged by cursor. */
export function taskSearchRouter({ taskIndex }: TaskSearchDeps): Router {
  const router = Router();
  router.get('/v1/tasks', requireScope('tasks:read'), async (req, res) => {
    if (!taskIndex) {
      throw new ApiError(404, 'listing_off', 'this queue keeps no task indexes (TASK_INDEXES=false)');
    }
    const filter = parseTaskFilter(req, LISTING_PARAMETERS);
    const limit = parsePageLimit(req);
    const cursor = req.query.cursor;
    let page;
    try {
      page = await taskIndex.search(filter, limit, typeof cursor === 'string' ? cursor : undefined);
    } catch (err) {
      if (!(err instanceof InvalidTaskCursorError)) throw err;
      throw new ApiError(422, 'validation_failed', 'the cursor parameter is not valid', [
        { field: 'cursor', message: 'pass back the nextCursor of the previous page, with the same filters' },
      ]);
    }
    res.json({
      items: page.items.map(summaryView),
      nextCursor: page.nextCursor ?? null,
      scanned: page.scanned,
    });
  });
  return router;
}

/** A listed task as the API shows it (schemas.ts taskSummarySchema): ISO 8601 times, absent fields null. */
function summaryView(task: TaskSummary) {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    id: task.id,
    type: task.type,
    tenant: task.tenant,
    status: task.status,
    priority: task.priority,
    attempts: task.attempts,
    createdAt: new Date(task.createdAt).toISOString(),
    startedAt: iso(task.startedAt),
    finishedAt: iso(task.finishedAt),
    key: task.key ?? null,
    error: task.error ?? null,
  };
}
