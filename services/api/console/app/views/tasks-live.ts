import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiFailure, enc } from '../api';
import { useEventStream } from '../hooks';
import { TERMINAL_STATUSES, type TaskEventData, type TaskRecord, type TaskSummary } from '../types';
import type { TaskFilters } from './task-filters';

/**
 * Keeps the tasks table live from `task` events (GET /v1/events with the filters the stream
 * understands). A shown row takes the new status at once; a task not shown is looked up
 * (GET /v1/tasks/:id) for its other columns and for the filters only its record can answer
 * (times, error text) before it goes on top. Lookups are bounded: in a burst the table cannot
 * keep up with thousands of tasks a second anyway, so past the bound it counts what it skipped
 * and offers a reload instead.
 */

const FLUSH_MS = 300;
const MAX_LOOKUPS_PER_FLUSH = 12;
const MAX_ROWS = 1000;

export interface LiveState {
  /** New matching tasks not looked up (the burst was too large): a reload shows them. */
  skipped: number;
  refused: ApiFailure | null;
}

export function useLiveTasks(
  filters: TaskFilters,
  enabled: boolean,
  rows: TaskSummary[],
  setRows: (update: (rows: TaskSummary[]) => TaskSummary[]) => void,
  /** The stream (re)connected: what changed while it was not connected is not in it. */
  onOpen: () => void,
): LiveState {
  const [skipped, setSkipped] = useState(0);
  const [refused, setRefused] = useState<ApiFailure | null>(null);
  const pending = useRef(new Map<string, TaskEventData>());
  const shown = useRef(new Set<string>());
  shown.current = new Set(rows.map((r) => r.id));

  const params = useMemo(() => {
    if (!enabled) return null;
    const p = new URLSearchParams();
    for (const name of ['status', 'type', 'tenant', 'key'] as const)
      if (filters[name]) p.set(name, filters[name]);
    return p;
  }, [enabled, filters.status, filters.type, filters.tenant, filters.key]);

  useEffect(() => {
    setSkipped(0);
    setRefused(null);
    pending.current.clear();
  }, [params?.toString()]);

  useEventStream(params, {
    onEvent: (name, data) => {
      if (name !== 'task') return;
      const event = JSON.parse(data) as TaskEventData;
      // Only the newest transition of a task matters; the map keeps one per id.
      pending.current.set(event.id, event);
    },
    onOpen,
    onRefused: setRefused,
  });

  useEffect(() => {
    if (!params) return undefined;
    const controller = new AbortController();
    const timer = setInterval(() => {
      if (pending.current.size === 0) return;
      const events = [...pending.current.values()];
      pending.current.clear();
      const updates = new Map<string, TaskEventData>();
      const unseen: TaskEventData[] = [];
      for (const event of events) {
        if (shown.current.has(event.id)) updates.set(event.id, event);
        else if (!filters.id || event.id.startsWith(filters.id)) unseen.push(event);
      }
      if (updates.size > 0) {
        setRows((current) =>
          current.map((row) => {
            const event = updates.get(row.id);
            return event ? { ...row, status: event.status } : row;
          }),
        );
        // Attempts and the error change with these statuses: fetch them too.
        for (const event of updates.values()) {
          if (event.status === 'retrying' || TERMINAL_STATUSES.has(event.status)) unseen.push(event);
        }
      }
      const lookups = unseen.slice(0, MAX_LOOKUPS_PER_FLUSH);
      const newOnes = unseen.filter((e) => !shown.current.has(e.id)).length;
      const lookedUpNew = lookups.filter((e) => !shown.current.has(e.id)).length;
      if (newOnes > lookedUpNew) setSkipped((n) => n + newOnes - lookedUpNew);
      for (const event of lookups) void lookUp(event.id, controller.signal);
    }, FLUSH_MS);

    const lookUp = async (id: string, signal: AbortSignal) => {
      let record: TaskRecord;
      try {
        record = await api<TaskRecord>('GET', `/v1/tasks/${enc(id)}`, { signal });
      } catch {
        return; // gone (expired), or not answering: the next event or a reload brings it
      }
      const summary = summaryOf(record);
      const keep = matches(summary, filters);
      setRows((current) => {
        // A shown row stays (with what it became) even once it no longer matches: rows do not vanish.
        const shownNow = current.some((r) => r.id === id);
        return shownNow || keep ? mergeRows(current, [summary]) : current;
      });
    };
    return () => {
      clearInterval(timer);
      controller.abort();
    };
  }, [params, filters.id, filters.since, filters.until, filters.q]);

  return { skipped, refused };
}

/**
 * `incoming` rows into `current` (an incoming row replaces the shown one of its id), newest
 * `createdAt` first as the API lists them: tasks looked up live land where they belong, whatever
 * order their lookups answer in. Bounded, so a page left open through a burst stays light.
 */
export function mergeRows(current: TaskSummary[], incoming: TaskSummary[]): TaskSummary[] {
  const byId = new Map(current.map((r) => [r.id, r]));
  for (const row of incoming) byId.set(row.id, row);
  // Stable: rows created in the same millisecond keep the order they had.
  return [...byId.values()]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .slice(0, MAX_ROWS);
}

export function summaryOf(record: TaskRecord): TaskSummary {
  return {
    id: record.id,
    type: record.type,
    tenant: record.tenant,
    status: record.status,
    priority: record.priority,
    attempts: record.attempts,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    key: record.key ?? null,
    error: record.error,
  };
}

/** The filters the list applies, checked on a record that arrived live. */
export function matches(task: TaskSummary, filters: TaskFilters): boolean {
  if (filters.status && !filters.status.split(',').includes(task.status)) return false;
  if (filters.type && task.type !== filters.type) return false;
  if (filters.tenant && task.tenant !== filters.tenant) return false;
  if (filters.key && !(task.key ?? '').startsWith(filters.key)) return false;
  if (filters.id && !task.id.startsWith(filters.id)) return false;
  const created = Date.parse(task.createdAt);
  if (filters.since && !(created >= Date.parse(filters.since))) return false;
  if (filters.until && !(created < Date.parse(filters.until))) return false;
  if (filters.q) {
    const text = `${task.error?.name ?? ''} ${task.error?.message ?? ''}`.toLowerCase();
    if (!text.includes(filters.q.toLowerCase())) return false;
  }
  return true;
}
