import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiFailure, query } from '../api';
import { FailureNotice, Loading, StatusBadge, Time } from '../components';
import { count } from '../format';
import { taskHref } from '../router';
import type { TaskPage, TaskSummary } from '../types';
import { filtersOf, TaskFilterForm, type TaskFilters } from './task-filters';
import { mergeRows, useLiveTasks } from './tasks-live';

/**
 * GET /v1/tasks with the route's filters, newest first, a page at a time. A page may come back
 * short and still have a next one (the API bounds how many records a text or prefix filter
 * examines per request), so "Load more" stays while there is a cursor, even after an empty page.
 */

const PAGE_SIZE = 50;

export function Tasks(props: { params: URLSearchParams }) {
  const search = props.params.toString();
  const filters = useMemo(() => filtersOf(props.params), [search]);
  const [rows, setRows] = useState<TaskSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [failure, setFailure] = useState<ApiFailure | null>(null);
  const [live, setLive] = useState(true);
  const [reloads, setReloads] = useState(0);
  // Which list the answers on their way belong to: one for other filters must not land in this one.
  const listRef = useRef('');
  listRef.current = `${search}#${reloads}`;
  const liveState = useLiveTasks(filters, live && !failure, rows, setRows, () => void refresh());

  const load = async (after: string | null, signal?: AbortSignal) => {
    const list = listRef.current;
    setLoading(true);
    try {
      const page = await api<TaskPage>(
        'GET',
        `/v1/tasks${query({ ...filters, limit: PAGE_SIZE, cursor: after })}`,
        signal ? { signal } : {},
      );
      if (list !== listRef.current) return;
      // Merged, not replaced: rows the live view added while this page was on its way stay.
      setRows((shown) => mergeRows(shown, page.items));
      setCursor(page.nextCursor);
      setFailure(null);
    } catch (err) {
      if (err instanceof ApiFailure) {
        if (list === listRef.current) setFailure(err);
      } else if ((err as Error).name !== 'AbortError') throw err;
    } finally {
      if (!signal?.aborted && list === listRef.current) setLoading(false);
    }
  };

  /** The first page again, merged into what is shown: catches up after the stream (re)connects. */
  const refresh = async () => {
    const list = listRef.current;
    try {
      const page = await api<TaskPage>('GET', `/v1/tasks${query({ ...filters, limit: PAGE_SIZE })}`);
      if (list === listRef.current) setRows((shown) => mergeRows(shown, page.items));
    } catch {
      // The next event, or a reload, brings what this missed; the first load shows failures.
    }
  };

  useEffect(() => {
    const controller = new AbortController();
    setRows([]);
    setCursor(null);
    void load(null, controller.signal);
    return () => controller.abort();
  }, [search, reloads]);

  return (
    <div class="page">
      <div class="page-head">
        <h1>Tasks</h1>
        <label class="toggle">
          <input
            type="checkbox"
            checked={live}
            onChange={(e) => setLive((e.currentTarget as HTMLInputElement).checked)}
          />
          Live
        </label>
      </div>
      <TaskFilterForm key={search} filters={filters} />
      {failure && <FailureNotice failure={failure} what="tasks" />}
      {liveState.refused && <FailureNotice failure={liveState.refused} what="live updates" />}
      {liveState.skipped > 0 && (
        <div role="status" class="notice notice-info">
          {count(liveState.skipped)} more new tasks arrived than the live view follows.{' '}
          <button type="button" class="button button-small" onClick={() => setReloads((n) => n + 1)}>
            Reload
          </button>
        </div>
      )}
      {!failure && <TaskTable rows={rows} filters={filters} />}
      {loading && <Loading what="tasks" />}
      {!loading && !failure && rows.length === 0 && !cursor && <p class="empty">No tasks match.</p>}
      {!loading && !failure && rows.length === 0 && cursor && (
        <p class="empty">No tasks match on this page yet: more records remain to be searched.</p>
      )}
      {cursor && !failure && (
        <div class="more">
          <button type="button" class="button" disabled={loading} onClick={() => void load(cursor)}>
            Load more
          </button>
        </div>
      )}
    </div>
  );
}

function TaskTable(props: { rows: TaskSummary[]; filters: TaskFilters }) {
  return (
    <div class="table-wrap">
      <table class="table" aria-label="Tasks">
        <thead>
          <tr>
            <th scope="col">ID</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">
              Attempts
            </th>
            <th scope="col">Created</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((task) => (
            <tr key={task.id} data-testid={`task-row-${task.id}`}>
              <td class="mono id-cell">
                <a href={taskHref(task.id)}>{task.id}</a>
              </td>
              <td>
                {task.type}
                {task.tenant !== 'default' && !props.filters.tenant && <span class="tag">{task.tenant}</span>}
              </td>
              <td data-testid={`task-status-${task.id}`}>
                <StatusBadge status={task.status} />
              </td>
              <td class="num">{task.attempts}</td>
              <td class="nowrap">
                <Time iso={task.createdAt} />
              </td>
              <td class="error-cell">
                {task.error ? (
                  <span title={task.error.message}>
                    <strong>{task.error.name}</strong> {task.error.message}
                  </span>
                ) : (
                  <span class="muted">—</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
