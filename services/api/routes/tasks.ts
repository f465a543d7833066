import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { ApiError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { TaskStore } from '../../shared/redis/task-store';
import { DEFAULT_MAX_ATTEMPTS, type TaskMessage } from '../../shared/task';
import type { ApiEvents } from '../events';
import { requireJson } from '../http';
import type { TaskPublisher } from '../task-publisher';
import { taskView } from '../task-view';
import { parseSubmission } from '../validation';

export interface TaskRoutesDeps {
  store: TaskStore;
  publisher: TaskPublisher;
  events: ApiEvents;
  logger: Logger;
}

/** Routes carry their full path, so `req.route.path` is the template metrics label requests with. */
export function tasksRouter({ store, publisher, events, logger }: TaskRoutesDeps): Router {
  const router = Router();

  router.post('/v1/tasks', requireJson, async (req, res) => {
    let submission;
    try {
      submission = parseSubmission(req.body);
    } catch (err) {
      // An invalid body's type is not trusted as a label value.
      events.tasksEnqueued('', 'invalid', 1);
      throw err;
    }
    const started = performance.now();
    const message: TaskMessage = {
      id: randomUUID(),
      ...submission,
      enqueuedAt: Date.now(),
      maxAttempts: DEFAULT_MAX_ATTEMPTS,
    };
    try {
      await publisher.publish([message]);
    } catch (err) {
      events.tasksEnqueued(message.type, 'unavailable', 1);
      throw err;
    }
    // Kafka holds the task now, so it will run whatever happens next. If this write fails the
    // worker's first status write creates the record; until then GET answers 404.
    const createdAt = new Date(message.enqueuedAt);
    await store
      .transition({
        id: message.id,
        type: message.type,
        createdAt,
        status: 'queued',
        attempt: 0,
        at: createdAt,
      })
      .catch((err: unknown) =>
        logger.warn('queued record not written', { taskId: message.id, error: String(err) }),
      );
    events.tasksEnqueued(message.type, 'accepted', 1);
    events.enqueueLatency((performance.now() - started) / 1000);
    res
      .status(202)
      .location(`/v1/tasks/${message.id}`)
      .json({ id: message.id, type: message.type, status: 'queued', createdAt: createdAt.toISOString() });
  });

  router.get('/v1/tasks/:id', async (req, res) => {
    const record = await store.get(req.params.id);
    if (!record) throw new ApiError(404, 'task_not_found', `no task with id "${req.params.id}"`);
    res.json(taskView(record));
  });

  return router;
}
