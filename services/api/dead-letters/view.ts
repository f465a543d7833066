import type { DeadLetter } from '../../shared/dead-letter';
import { priorityOf } from '../../shared/lanes/priority';
import { tenantOf } from '../../shared/tenancy/tenant';

/** A dead letter as the API shows it (schemas.ts deadLetterSchema): ISO 8601 times, absent fields null. */
export function deadLetterView(entry: DeadLetter) {
  const iso = (ms: number) => new Date(ms).toISOString();
  const { task } = entry;
  // Field by field: the schema is closed, and the wire format may gain optional fields.
  const taskView = task && {
    id: task.id,
    type: task.type,
    tenant: tenantOf(task),
    priority: priorityOf(task),
    payload: task.payload,
    enqueuedAt: iso(task.enqueuedAt),
    maxAttempts: task.maxAttempts,
    ...(task.key !== undefined && { key: task.key }),
    ...(task.timeoutMs !== undefined && { timeoutMs: task.timeoutMs }),
    ...(task.runAt !== undefined && { runAt: iso(task.runAt) }),
    ...(task.callbackUrl !== undefined && { callbackUrl: task.callbackUrl }),
  };
  return {
    id: entry.id,
    reason: entry.reason,
    deadAt: iso(entry.deadAt),
    task: taskView ?? null,
    raw: entry.raw ?? null,
    error: entry.error,
    history: entry.history.map((failure) => ({
      attempt: failure.attempt,
      startedAt: iso(failure.startedAt),
      finishedAt: iso(failure.finishedAt),
      error: failure.error,
    })),
    replayedAs: entry.replayedAs ?? null,
  };
}
