import { randomUUID } from 'node:crypto';
import type { DeadLetter } from '../../services/shared/dead-letter';
import type { TaskMessage } from '../../services/shared/task';

/** A dead letter as the worker adds it after two failed attempts; `task` fields may be overridden. */
export function deadLetter(
  deadAt: number,
  extra: Partial<DeadLetter> = {},
  task: Partial<TaskMessage> = {},
): DeadLetter {
  const id = randomUUID();
  const error = { name: 'Error', message: 'boom' };
  return {
    id,
    reason: 'attempts-exhausted',
    deadAt,
    task: {
      id,
      type: 'fail',
      payload: { message: 'boom' },
      enqueuedAt: deadAt - 5000,
      maxAttempts: 2,
      ...task,
    },
    error,
    history: [
      { attempt: 1, startedAt: deadAt - 4000, finishedAt: deadAt - 3000, error },
      { attempt: 2, startedAt: deadAt - 1000, finishedAt: deadAt, error },
    ],
    ...extra,
  };
}
