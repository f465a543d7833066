import type { TaskRecord } from '../shared/task';

/** A task record as the API shows it: timestamps as ISO 8601, absent fields as null. */
export function taskView(record: TaskRecord) {
  const iso = (date?: Date) => date?.toISOString() ?? null;
  return {
    id: record.id,
    type: record.type,
    status: record.status,
    attempts: record.attempts,
    createdAt: iso(record.createdAt),
    startedAt: iso(record.startedAt),
    finishedAt: iso(record.finishedAt),
    result: record.result ?? null,
    error: record.error ?? null,
  };
}
