import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { DeadLetter } from '../../services/shared/dead-letter';
import type { RedisKeys } from '../../services/shared/redis/keys';
import type { TaskMessage } from '../../services/shared/task';
import { DEFAULT_TENANT } from '../../services/shared/tenancy/tenant';

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

/** A poison message's dead letter, as the worker adds one (no task, no tenant: admin keys only). */
export function poisonLetter(deadAt: number, offset = deadAt): DeadLetter {
  return {
    id: `poison:spillway.x.tasks:2:${offset}`,
    reason: 'poison',
    deadAt,
    raw: '{not json',
    error: { name: 'PoisonMessageError', message: 'not a task message: value is not JSON' },
    history: [],
  };
}

/**
 * Removes every dead letter of a queue (and its indexes, `tenants`' and the discarded ids) by its
 * index, not by SCAN: a shared Redis may hold millions of other keys.
 */
export async function clearDeadLetters(
  redis: Redis,
  keys: RedisKeys,
  tenants = [DEFAULT_TENANT],
): Promise<void> {
  const ids = await redis.zrange(keys.deadLetters(), 0, -1);
  for (let i = 0; i < ids.length; i += 1000) {
    await redis.unlink(...ids.slice(i, i + 1000).map((id) => keys.deadLetter(id)));
  }
  await redis.unlink(
    keys.deadLetters(),
    keys.discardedDeadLetters(),
    ...tenants.map((t) => keys.deadLetters(t)),
  );
}
