import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { ApiError, type ErrorDetail } from '../shared/errors';
import type { AddressPolicy } from '../shared/net/address-policy';
import { DEFAULT_PRIORITY, type TaskPriority } from '../shared/lanes/priority';
import { DEFAULT_MAX_ATTEMPTS, type JsonValue } from '../shared/task';
import { batchSubmissionSchema, LIMITS, taskSubmissionSchema } from './schemas';

/** A submission that passed validation, with its start time made absolute. */
export interface Submission {
  type: string;
  payload: JsonValue;
  key?: string;
  maxAttempts: number;
  timeoutMs?: number;
  /** Epoch ms; absent when the task may start at once. */
  runAt?: number;
  callbackUrl?: string;
  /** Absent: normal. */
  priority?: TaskPriority;
}

export type CheckedItem =
  | { submission: Submission; error?: undefined }
  | { submission?: undefined; error: { code: string; message: string; details?: ErrorDetail[] | undefined } };

export interface CheckedItems {
  /** Every item, in order. */
  checked: CheckedItem[];
  valid: Submission[];
  rejected: number;
  /** The place of each valid item among all of them. */
  positions: number[];
  /** What is wrong with the rejected items, for a 422 when none is valid. */
  details(): ErrorDetail[];
}

export interface ValidationOptions {
  /** When set, only these task types are accepted (TASK_TYPES). */
  allowedTypes?: ReadonlySet<string>;
  /** Refuses a callbackUrl whose host is an internal IP literal or localhost (CALLBACK_ALLOW_*). */
  callbackPolicy?: AddressPolicy;
}

// strictRequired off: `not: {required: [...]}` names properties defined one level up, which is the point.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv, ['date-time', 'uri']);
const checkTask = ajv.compile(taskSubmissionSchema);

/** Compiles a request schema with the same options and formats as the task's. */
export function compileSchema(schema: object): ValidateFunction {
  return ajv.compile(schema);
}

export class Validator {
  private readonly checkBatch: ValidateFunction;

  constructor(
    maxBatchTasks: number,
    private readonly options: ValidationOptions = {},
  ) {
    // Items are checked one by one (checkTask), so one bad item rejects only itself.
    const envelope = batchSubmissionSchema(maxBatchTasks);
    this.checkBatch = ajv.compile({
      ...envelope,
      properties: { tasks: { ...envelope.properties.tasks, items: true } },
    });
  }

  /** Checks one task (a POST /v1/tasks body or a batch item), naming every bad field (422). */
  submission(body: unknown, now: number, fieldPrefix = ''): Submission {
    if (!checkTask(body))
      throw invalid('the task is not valid', toDetails(checkTask.errors ?? [], fieldPrefix));
    const task = body as unknown as Record<string, unknown>;
    const type = task.type as string;
    const details: ErrorDetail[] = [];
    if (this.options.allowedTypes && !this.options.allowedTypes.has(type)) {
      details.push({ field: `${fieldPrefix}type`, message: `unknown task type "${type}"` });
    }
    let runAt = typeof task.delayMs === 'number' && task.delayMs > 0 ? now + task.delayMs : undefined;
    if (typeof task.runAt === 'string') {
      const at = Date.parse(task.runAt);
      if (at > now + LIMITS.delayMs)
        details.push({ field: `${fieldPrefix}runAt`, message: 'at most 30 days ahead' });
      runAt = at > now ? at : undefined;
    }
    if (typeof task.callbackUrl === 'string') {
      const refusal = this.callbackRefusal(task.callbackUrl);
      if (refusal) details.push({ field: `${fieldPrefix}callbackUrl`, message: refusal });
    }
    if (details.length > 0) throw invalid('the task is not valid', details);
    const submission: Submission = {
      type,
      payload: (task.payload ?? null) as JsonValue,
      maxAttempts: (task.maxAttempts as number | undefined) ?? DEFAULT_MAX_ATTEMPTS,
    };
    // Normal is left out: messages and records carry a priority only when it is not the default.
    const priority = task.priority === DEFAULT_PRIORITY ? undefined : task.priority;
    const optional = {
      key: task.key,
      timeoutMs: task.timeoutMs,
      runAt,
      callbackUrl: task.callbackUrl,
      priority,
    };
    for (const [name, value] of Object.entries(optional)) {
      if (value !== undefined) Object.assign(submission, { [name]: value });
    }
    return submission;
  }

  /**
   * What can be said against a callback URL without resolving it. A host name is left to the
   * worker, which checks every address it resolves to when it connects.
   */
  callbackRefusal(url: string): string | undefined {
    let hostname: string;
    try {
      hostname = new URL(url).hostname;
    } catch {
      return 'must be an absolute http(s) URL';
    }
    const why = this.options.callbackPolicy?.hostRefusal(hostname);
    return why && `must not point at an internal address (${why})`;
  }

  /**
   * Checks each item of a batch on its own (`tasks[i].` names its fields): the valid ones go on,
   * the others are answered with their error in place.
   */
  items(items: unknown[], now: number): CheckedItems {
    const checked = items.map((item, i): CheckedItem => {
      try {
        return { submission: this.submission(item, now, `tasks[${i}].`) };
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        return { error: { code: err.code, message: err.message, details: err.details } };
      }
    });
    const valid = checked.flatMap((c) => (c.submission ? [c.submission] : []));
    return {
      checked,
      valid,
      rejected: checked.length - valid.length,
      positions: checked.flatMap((c, i) => (c.submission ? [i] : [])),
      details: () => checked.flatMap((c) => c.error?.details ?? []),
    };
  }

  /** Checks a POST /v1/tasks/batch envelope; returns the items, each still to be checked. */
  batch(body: unknown): unknown[] {
    if (!this.checkBatch(body))
      throw invalid('the batch is not valid', toDetails(this.checkBatch.errors ?? [], ''));
    return (body as { tasks: unknown[] }).tasks;
  }
}

export function invalid(message: string, details: ErrorDetail[]): ApiError {
  return new ApiError(422, 'validation_failed', message, details);
}

/** "/tasks/3/type" → "tasks[3].type": the way a client's code names the field. */
function fieldName(pointer: string, prefix: string, child?: string): string {
  const parts = pointer.split('/').slice(1);
  if (child !== undefined) parts.push(child);
  const path = parts.reduce(
    (name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part),
    '',
  );
  return `${prefix}${path}`;
}

export function toDetails(errors: ErrorObject[], prefix: string): ErrorDetail[] {
  // Not an object at all: every other complaint would be noise.
  if (errors.some((e) => e.keyword === 'type' && e.instancePath === '')) {
    return [{ ...(prefix && { field: prefix.replace(/\.$/, '') }), message: 'must be a JSON object' }];
  }
  const details = errors.map((error): ErrorDetail => {
    const params = error.params as Record<string, unknown>;
    switch (error.keyword) {
      case 'required':
        return {
          field: fieldName(error.instancePath, prefix, String(params.missingProperty)),
          message: 'required',
        };
      case 'additionalProperties':
        return {
          field: fieldName(error.instancePath, prefix, String(params.additionalProperty)),
          message: 'unknown field',
        };
      case 'enum':
        return {
          field: fieldName(error.instancePath, prefix),
          message: `one of ${(params.allowedValues as unknown[]).join(', ')}`,
        };
      case 'not':
        return {
          field: fieldName(error.instancePath, prefix, 'runAt'),
          message: 'give delayMs or runAt, not both',
        };
      case 'pattern':
        return {
          field: fieldName(error.instancePath, prefix),
          message: error.instancePath.endsWith('/type')
            ? `1 to ${LIMITS.typeLength} characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit`
            : `must match ${String(params.pattern)}`,
        };
      default:
        return { field: fieldName(error.instancePath, prefix), message: error.message ?? 'is not valid' };
    }
  });
  return details;
}
