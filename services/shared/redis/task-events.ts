import { TASK_STATUSES, type TaskStatus } from '../task';

/** One change of status, as the transition script publishes it on RedisKeys.taskEvents(). */
export interface TaskEvent {
  id: string;
  status: TaskStatus;
  type: string;
  /** `default` for the default tenant's tasks. */
  tenant: string;
  /** The ordering key, when the task has one (and the API wrote it with the record). */
  key?: string;
  /** Epoch ms, on Redis' clock. */
  at: number;
}

/**
 * The events of one message (index-script.ts: a line per change, tab-separated fields). Lines
 * that do not parse are skipped: a newer writer may add fields, which only extend a line.
 */
export function parseTaskEvents(message: string): TaskEvent[] {
  const events: TaskEvent[] = [];
  for (const line of message.split('\n')) {
    const [id, status, type, tenant, key, at] = line.split('\t');
    if (!id || !isStatus(status) || type === undefined || !tenant || !(Number(at) > 0)) continue;
    events.push({ id, status, type, tenant, ...(key && { key }), at: Number(at) });
  }
  return events;
}

function isStatus(value: string | undefined): value is TaskStatus {
  return (TASK_STATUSES as readonly (string | undefined)[]).includes(value);
}
