import type { Request } from 'express';
import { ApiError, type ErrorDetail } from '../shared/errors';
import type { TaskEvent } from '../shared/redis/task-events';
import type { TaskFilter } from '../shared/redis/task-index';
import { TASK_STATUSES, type TaskStatus } from '../shared/task';
import { TASK_LIMITS } from '../shared/task-limits';
import { pageLimit } from './http';
import { invalid } from './validation';

/** The query parameters GET /v1/tasks takes; GET /v1/events takes those of TaskFilter it can match. */
export const LISTING_PARAMETERS = [
  'status',
  'type',
  'tenant',
  'key',
  'id',
  'since',
  'until',
  'q',
  'limit',
  'cursor',
] as const;
export type ListingParameter = (typeof LISTING_PARAMETERS)[number];

/** Longest `q`: a search term, not a document. */
export const MAX_SEARCH_TEXT = 200;
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

/**
 * The filter of a listing or event stream request, with the caller's tenant applied: a key
 * that is not admin sees its own tenant's tasks only, whatever it asks (asking for another
 * tenant's is 403, not an empty page that would look like "none"). Every parameter is checked
 * and all faults are named at once; `allowed` are the parameters this route takes (others: 422),
 * besides `others`, parameters of the route's own that it reads itself.
 */
export function parseTaskFilter(
  req: Request,
  allowed: readonly ListingParameter[],
  others: readonly string[] = [],
): TaskFilter {
  const details: ErrorDetail[] = [];
  const query = req.query as Record<string, unknown>;
  const fail = (field: string, message: string) => details.push({ field, message });
  const text = (name: ListingParameter, max: number): string | undefined => {
    const value = query[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '' || value.length > max) {
      fail(name, `one value of 1 to ${max} characters`);
      return undefined;
    }
    return value;
  };
  const known: readonly string[] = [...allowed, ...others];
  for (const name of Object.keys(query)) {
    if (!known.includes(name)) fail(name, `not a parameter of this route (${known.join(', ')})`);
  }

  const statuses = text('status', 200)?.split(',');
  const unknown = statuses?.filter((s) => !(TASK_STATUSES as readonly string[]).includes(s));
  if (unknown?.length)
    fail('status', `statuses separated by commas, each one of ${TASK_STATUSES.join(', ')}`);
  const since = time(text('since', 64), 'since', fail);
  const until = time(text('until', 64), 'until', fail);
  if (since !== undefined && until !== undefined && since >= until) fail('until', 'later than since');

  const type = text('type', TASK_LIMITS.typeLength);
  const keyPrefix = text('key', TASK_LIMITS.keyLength);
  const idPrefix = text('id', 200);
  const search = text('q', MAX_SEARCH_TEXT);
  let tenant = text('tenant', 200);
  const { caller } = req;
  if (!caller.scopes.has('admin')) {
    if (tenant !== undefined && tenant !== caller.tenant.name) {
      throw new ApiError(
        403,
        'tenant_forbidden',
        `this API key sees the tasks of tenant "${caller.tenant.name}" only`,
        [{ field: 'tenant', message: `"${caller.tenant.name}" or leave it out` }],
      );
    }
    tenant = caller.tenant.name;
  }
  if (details.length > 0)
    throw new ApiError(422, 'validation_failed', 'the query parameters are not valid', details);
  return {
    ...(statuses && !unknown?.length && { statuses: [...new Set(statuses)] as TaskStatus[] }),
    ...(type !== undefined && { type }),
    ...(tenant !== undefined && { tenant }),
    ...(keyPrefix !== undefined && { keyPrefix }),
    ...(idPrefix !== undefined && { idPrefix }),
    ...(since !== undefined && { since }),
    ...(until !== undefined && { until }),
    ...(search !== undefined && { text: search }),
  };
}

/** `?limit=N`: 1 to MAX_PAGE, default DEFAULT_PAGE. */
export function parsePageLimit(req: Request): number {
  return pageLimit(req.query.limit, MAX_PAGE, DEFAULT_PAGE);
}

/**
 * GET /v1/events' `tasks`: `all` (the default), or `none` for a stream without task events, only
 * the rates (admin keys) and keep-alives: a client that draws the rates would drop every task event.
 */
export const STREAM_TASKS_VALUES = ['all', 'none'] as const;

/** `?tasks=`: whether the stream carries task events. */
export function parseStreamTasks(req: Request): boolean {
  const value = req.query.tasks;
  if (value === undefined || value === 'all') return true;
  if (value === 'none') return false;
  throw invalid('the tasks parameter is not valid', [
    {
      field: 'tasks',
      message: `one of ${STREAM_TASKS_VALUES.join(', ')} (none: rates and keep-alives only)`,
    },
  ]);
}

/** Whether a live event passes the parts of a filter an event carries (not time, id or text). */
export function eventMatches(filter: TaskFilter, event: TaskEvent): boolean {
  return (
    (filter.statuses === undefined || filter.statuses.includes(event.status)) &&
    (filter.type === undefined || filter.type === event.type) &&
    (filter.tenant === undefined || filter.tenant === event.tenant) &&
    (filter.keyPrefix === undefined || (event.key ?? '').startsWith(filter.keyPrefix)) &&
    (filter.idPrefix === undefined || event.id.startsWith(filter.idPrefix))
  );
}

/** An ISO 8601 time with a zone (or epoch ms), as epoch ms. */
function time(value: string | undefined, field: string, fail: (field: string, message: string) => void) {
  if (value === undefined) return undefined;
  const ms = /^\d{1,15}$/.test(value)
    ? Number(value)
    : /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(value)
      ? Date.parse(value)
      : NaN;
  if (!Number.isFinite(ms)) {
    fail(field, 'an ISO 8601 time with its zone (2026-12-06T10:00:00Z) or epoch milliseconds');
    return undefined;
  }
  return ms;
}
