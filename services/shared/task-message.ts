import { isLane, isPriority } from './lanes/priority';
import { DEFAULT_MAX_ATTEMPTS, type AttemptFailure, type JsonValue, type TaskMessage } from './task';

/** The one owner of the tasks topic's wire format: JSON, UTF-8, fields of TaskMessage. */

/**
 * The Kafka key of a task's message: its ordering key (within its tenant), or else its id. Every copy of one task
 * (an Idempotency-Key retry publishes the same id again) then lands in one partition, where the
 * worker's key lanes run one at a time, so the second copy finds the first's outcome.
 */
export function partitionKeyOf(task: Pick<TaskMessage, 'id' | 'key' | 'tenant'>): string {
  if (task.key === undefined) return task.id;
  // Two tenants' "user-42" are different keys: one must not wait behind the other's.
  return task.tenant === undefined ? task.key : `${task.tenant}/${task.key}`;
}

export function encodeTaskMessage(message: TaskMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

/** A message no worker can ever run, whatever it retries: not JSON, or not a task's shape. */
export class PoisonMessageError extends Error {
  constructor(reason: string) {
    super(`not a task message: ${reason}`);
    this.name = 'PoisonMessageError';
  }
}

export function decodeTaskMessage(value: Buffer | null): TaskMessage {
  if (!value) throw new PoisonMessageError('empty value');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    throw new PoisonMessageError('value is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new PoisonMessageError('value is not an object');
  const fields = parsed as Record<string, unknown>;
  const { id, type, payload, enqueuedAt } = fields;
  if (typeof id !== 'string' || id === '') throw new PoisonMessageError('"id" is not a string');
  if (typeof type !== 'string' || type === '') throw new PoisonMessageError('"type" is not a string');
  if (typeof enqueuedAt !== 'number') throw new PoisonMessageError('"enqueuedAt" is not a number');
  const message: TaskMessage = {
    id,
    type,
    payload: (payload ?? null) as JsonValue,
    enqueuedAt,
    maxAttempts: optional(fields, 'maxAttempts', 'number') ?? DEFAULT_MAX_ATTEMPTS,
  };
  const extras = {
    key: optional(fields, 'key', 'string'),
    timeoutMs: optional(fields, 'timeoutMs', 'number'),
    runAt: optional(fields, 'runAt', 'number'),
    callbackUrl: optional(fields, 'callbackUrl', 'string'),
    tenant: optional(fields, 'tenant', 'string'),
    priority: optionalOf(fields, 'priority', isPriority, 'high, normal or low'),
    lane: optionalOf(fields, 'lane', isLane, 'a lane'),
    attempt: optional(fields, 'attempt', 'number'),
    schedule: optional(fields, 'schedule', 'string'),
    batch: optional(fields, 'batch', 'string'),
    history: Array.isArray(fields.history) ? (fields.history as AttemptFailure[]) : undefined,
  };
  for (const [name, value] of Object.entries(extras)) {
    if (value !== undefined) Object.assign(message, { [name]: value });
  }
  return message;
}

function optional<T extends 'string' | 'number'>(
  fields: Record<string, unknown>,
  name: string,
  kind: T,
): (T extends 'string' ? string : number) | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== kind) throw new PoisonMessageError(`"${name}" is not a ${kind}`);
  return value as T extends 'string' ? string : number;
}

function optionalOf<T>(
  fields: Record<string, unknown>,
  name: string,
  is: (value: unknown) => value is T,
  what: string,
): T | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (!is(value)) throw new PoisonMessageError(`"${name}" is not ${what}`);
  return value;
}
