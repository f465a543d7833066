import { randomUUID } from 'node:crypto';
import type { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { TERMINAL_STATUSES, type TaskMessage, type TaskRecord } from '../../services/shared/task';
import { encodeTaskMessage } from '../../services/shared/task-message';
import { produce } from './kafka';
import { eventually } from './stack';

/** A task message as the API would publish it. */
export function taskMessage(
  type: string,
  payload: TaskMessage['payload'],
  extra: Partial<TaskMessage> = {},
): TaskMessage {
  return { id: randomUUID(), type, payload, enqueuedAt: Date.now(), maxAttempts: 3, ...extra };
}

/** Publishes task messages straight onto a tasks topic in one request (keyed when they have a key). */
export function publishTasks(topic: string, tasks: TaskMessage[]): Promise<void> {
  return produce(
    topic,
    tasks.map((task) => ({ key: task.key ?? null, value: encodeTaskMessage(task) })),
  );
}

/** Waits until the task's record is in a finished status. */
export function finished(store: RedisTaskStore, id: string, timeoutMs = 30_000): Promise<TaskRecord> {
  return eventually(
    async () => {
      const record = await store.get(id);
      return record && TERMINAL_STATUSES.has(record.status) ? record : undefined;
    },
    timeoutMs,
    `task ${id} finished`,
  );
}
