import { Router } from 'express';
import { ApiError } from '../../shared/errors';
import { canSee, requireScope } from '../auth';
import type { TaskEventHub } from '../live/task-event-hub';
import { parseStreamTasks, parseTaskFilter, type ListingParameter } from '../task-filter';

/**
 * What a stream filters on: what an event carries. `since`, `until` and `q` need the record
 * (createdAt, error), and `limit`/`cursor` page a listing; a stream given them answers 422 naming
 * the parameter rather than silently sending more than was asked for.
 */
export const EVENT_PARAMETERS: readonly ListingParameter[] = ['status', 'type', 'tenant', 'key', 'id'];

export interface EventRoutesDeps {
  /** The event fan-out; absent (TASK_INDEXES=false: nothing publishes events): 404 events_off. */
  live?: TaskEventHub | undefined;
}

/**
 * GET /v1/events: every change of status the caller may see and asked for, as Server-Sent Events
 * (services/api/live/task-event-hub.ts); admin keys also get the queue's rates once a second.
 */
export function eventsRouter({ live }: EventRoutesDeps): Router {
  const router = Router();
  router.get('/v1/events', requireScope('tasks:read'), async (req, res) => {
    if (!live) {
      throw new ApiError(404, 'events_off', 'this queue publishes no task events (TASK_INDEXES=false)');
    }
    const filter = parseTaskFilter(req, EVENT_PARAMETERS, ['tasks']);
    const tasks = parseStreamTasks(req);
    const { caller } = req;
    await live.open(res, {
      tasks,
      filter,
      sees: (tenant) => canSee(caller, tenant),
      admin: caller.scopes.has('admin'),
      principal: caller.principal,
    });
  });
  return router;
}
