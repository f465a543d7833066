import type { TaskRecord } from './task';
import { laneOf, priorityOf } from './lanes/priority';
import { tenantOf } from './tenancy/tenant';

/** A task record as the API shows it (services/api/schemas.ts taskSchema): ISO 8601 times, absent fields null. */
export function taskView(record: TaskRecord) {
  const iso = (date?: Date) => date?.toISOString() ?? null;
  return {
    id: record.id,
    type: record.type,
    tenant: tenantOf(record),
    priority: priorityOf(record),
    lane: laneOf(record),
    status: record.status,
    attempts: record.attempts,
    createdAt: iso(record.createdAt),
    ...(record.runAt && { runAt: record.runAt.toISOString() }),
    startedAt: iso(record.startedAt),
    finishedAt: iso(record.finishedAt),
    result: record.result ?? null,
    error: record.error ?? null,
    progress: record.progress ?? null,
    history: (record.history ?? []).map((failure) => ({
      ...failure,
      startedAt: new Date(failure.startedAt).toISOString(),
      finishedAt: new Date(failure.finishedAt).toISOString(),
    })),
    ...(record.callback !== undefined && { callback: record.callback }),
    ...(record.batch !== undefined && { batch: record.batch }),
    ...(record.children !== undefined && { children: record.children }),
    ...(record.schedule !== undefined && { schedule: record.schedule }),
    // What it was submitted with (records from before this, or created by a worker, lack it).
    key: record.key ?? null,
    ...(record.spec?.payload !== undefined && { payload: record.spec.payload }),
    ...(record.spec?.payloadBytes !== undefined && { payloadBytes: record.spec.payloadBytes }),
    ...(record.spec && {
      maxAttempts: record.spec.maxAttempts,
      timeoutMs: record.spec.timeoutMs ?? null,
      callbackUrl: record.spec.callbackUrl ?? null,
    }),
    ...(record.replayOf !== undefined && { replayOf: record.replayOf }),
  };
}
