import type { Logger } from '../shared/logger';
import type { JsonValue } from '../shared/task';
import type { TaskPayloads } from '../shared/task-types';
import type { Spawned, SpawnedTask, SpawnOptions } from './batches/spawn';

export interface HandlerContext {
  taskId: string;
  /** Starts at 1. */
  attempt: number;
  maxAttempts: number;
  /**
   * Aborted when the attempt times out (timeoutMs), the task is cancelled, or shutdown runs out
   * of drain time. Stop soon after it fires: a handler that does not is abandoned.
   */
  signal: AbortSignal;
  /** Reports progress (a number or any JSON), shown by GET /v1/tasks/:id. Never throws. */
  progress(value: JsonValue): Promise<void>;
  /** Lines carry the task id and type. */
  logger: Logger;
  /**
   * Submits child tasks as one batch whose parent is this task (docs/batches.md). Their ids derive
   * from this task's id and each child's seed (or place), so a retried attempt does not spawn
   * them twice. With `wait`, this task finishes when they do.
   */
  spawn(tasks: SpawnedTask[], options?: SpawnOptions): Promise<Spawned>;
}

/** Throw this (or any error with `retriable: false`) to fail a task at once, without retries. */
export class NonRetriableError extends Error {
  readonly retriable = false;

  constructor(message: string) {
    super(message);
    this.name = 'NonRetriableError';
  }
}

/** Runs one task. What it resolves to becomes the task's result; a throw fails the task. */
export type Handler<P = JsonValue> = (payload: P, ctx: HandlerContext) => Promise<JsonValue | void>;

/** Task type → handler. Built-in types are checked against their payload type (TaskPayloads). */
export class HandlerRegistry {
  private readonly handlers = new Map<string, Handler<never>>();

  register<T extends keyof TaskPayloads>(type: T, handler: Handler<TaskPayloads[T]>): this;
  register(type: string, handler: Handler): this;
  register(type: string, handler: Handler<never>): this {
    if (this.handlers.has(type)) throw new Error(`a handler for "${type}" is already registered`);
    this.handlers.set(type, handler);
    return this;
  }

  /**
   * The payload is whatever the client sent; a handler must not trust its shape beyond what its
   * TaskPayloads entry promises the API checked.
   */
  get(type: string): Handler<JsonValue> | undefined {
    return this.handlers.get(type) as Handler<JsonValue> | undefined;
  }

  types(): string[] {
    return [...this.handlers.keys()];
  }
}
