import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { TaskStore } from '../shared/redis/task-store';
import { TERMINAL_STATUSES, type JsonValue, type TaskError, type TaskMessage } from '../shared/task';
import type { WorkerEvents } from './events';
import type { HandlerRegistry } from './handlers';

export interface RunTaskDeps {
  store: TaskStore;
  handlers: HandlerRegistry;
  events: WorkerEvents;
  logger: Logger;
}

/**
 * Runs one delivered task and records its status. Store failures are thrown, so the message is
 * not committed and gets delivered again; handler failures are recorded as the task's outcome.
 */
export async function runTask(task: TaskMessage, signal: AbortSignal, deps: RunTaskDeps): Promise<void> {
  const { store, handlers, events } = deps;
  const attempt = 1;
  const logger = deps.logger.child({ taskId: task.id, type: task.type });
  const base = { id: task.id, type: task.type, createdAt: new Date(task.enqueuedAt), attempt };

  const start = await store.transition({ ...base, status: 'running', at: new Date() });
  if (!start.applied && start.current && TERMINAL_STATUSES.has(start.current)) {
    logger.info('task already finished; delivery skipped', { status: start.current });
    events.duplicateSkipped(task.type);
    return;
  }

  events.taskStarted(task.type, (Date.now() - task.enqueuedAt) / 1000);
  const started = performance.now();
  let result: JsonValue | undefined;
  let error: TaskError | undefined;
  try {
    const handler = handlers.get(task.type);
    if (!handler)
      throw Object.assign(new Error(`no handler for task type "${task.type}"`), { name: 'UnknownTaskType' });
    result = (await handler(task.payload, { taskId: task.id, attempt, signal, logger })) ?? null;
  } catch (err) {
    error = { name: err instanceof Error ? err.name : 'Error', message: errorMessage(err) };
  }
  const seconds = (performance.now() - started) / 1000;
  if (signal.aborted) {
    // Shutdown cut the handler short: that says nothing about the task. Throwing leaves the
    // message uncommitted, so the group delivers it again (to this worker's successor).
    events.taskFinished(task.type, 'interrupted', seconds);
    throw new Error(`task ${task.id} interrupted by shutdown`);
  }

  try {
    if (error) {
      await store.transition({ ...base, status: 'failed', at: new Date(), error });
      logger.warn('task failed', { error: error.message, seconds });
    } else {
      await store.transition({ ...base, status: 'succeeded', at: new Date(), result });
      logger.debug('task succeeded', { seconds });
    }
  } finally {
    events.taskFinished(task.type, error ? 'failed' : 'succeeded', seconds);
  }
}
