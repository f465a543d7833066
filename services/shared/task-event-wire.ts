import type { TaskStatus } from './task';

/**
 * The `data:` of an `event: task` on GET /v1/events (docs/api.md, "Live events"; the OpenAPI's
 * TaskEvent): what the API's hub writes and the CLI, the console and the tests read. Not the
 * Redis message (redis/task-events.ts): on the wire, `at` is ISO 8601 and a missing key is null.
 * It imports nothing of Node: the console's browser bundle takes it as it is.
 */
export interface TaskEventData {
  id: string;
  type: string;
  tenant: string;
  status: TaskStatus;
  /** When the change was recorded (Redis' clock). */
  at: string;
  /** The ordering key; null when the task has none. */
  key: string | null;
}
