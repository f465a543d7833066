import { ApiError, type ErrorDetail } from '../shared/errors';
import type { JsonValue } from '../shared/task';

export interface Submission {
  type: string;
  payload: JsonValue;
}

const TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Checks a POST /v1/tasks body, reporting every bad field at once (422). */
export function parseSubmission(body: unknown): Submission {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(422, 'validation_failed', 'the request body must be a JSON object', [
      { message: 'expected an object with "type" and "payload"' },
    ]);
  }
  const { type, payload, ...rest } = body as Record<string, unknown>;
  const details: ErrorDetail[] = [];
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) {
    details.push({
      field: 'type',
      message: 'required: 1 to 128 characters of letters, digits, "_", ".", ":" or "-"',
    });
  }
  for (const field of Object.keys(rest)) details.push({ field, message: 'unknown field' });
  if (details.length > 0) throw new ApiError(422, 'validation_failed', 'the task is not valid', details);
  return { type: type as string, payload: (payload ?? null) as JsonValue };
}
