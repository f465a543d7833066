import type { Logger } from '../shared/logger';
import type { JsonValue, TaskMessage } from '../shared/task';
import type { Handler } from './handlers';

/** After the signal aborts, how long a handler gets to stop before it is abandoned. */
export const ABANDON_GRACE_MS = 1000;

/** The attempt ran out of its timeoutMs. */
export class AttemptTimeoutError extends Error {
  constructor(ms: number) {
    super(`the attempt timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** Shutdown ran out of drain time; the task goes back to Kafka uncommitted. */
export class ShutdownInterruption extends Error {
  constructor(id: string) {
    super(`task ${id} interrupted by shutdown`);
    this.name = 'ShutdownInterruption';
  }
}

export type HandlerOutcome = { kind: 'succeeded'; result: JsonValue } | { kind: 'failed'; error: unknown };

export interface HandlerRunDeps {
  logger: Logger;
  shutdown: AbortSignal;
  cancellations: { register(id: string, controller: AbortController): () => void };
  progress(value: JsonValue): Promise<void>;
  /** The handler ignored its aborted signal past the grace time and was left running. */
  onAbandoned(): void;
}

/**
 * Runs a handler with one AbortSignal for its timeout, its cancellation and shutdown. When the
 * signal fires, the signal's reason is the outcome, whatever the handler throws; a handler that
 * has not stopped ABANDON_GRACE_MS later is abandoned, so its concurrency slot is not held forever.
 */
export async function runHandler(
  handler: Handler<JsonValue>,
  task: TaskMessage,
  attempt: number,
  deps: HandlerRunDeps,
): Promise<HandlerOutcome> {
  const controller = new AbortController();
  const { signal } = controller;
  const timer = task.timeoutMs
    ? setTimeout(() => controller.abort(new AttemptTimeoutError(task.timeoutMs!)), task.timeoutMs)
    : undefined;
  const onShutdown = () => controller.abort(new ShutdownInterruption(task.id));
  if (deps.shutdown.aborted) onShutdown();
  deps.shutdown.addEventListener('abort', onShutdown);
  const unregister = deps.cancellations.register(task.id, controller);

  let abandonTimer: NodeJS.Timeout | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => {
      abandonTimer = setTimeout(() => reject(signal.reason), ABANDON_GRACE_MS);
    });
  });
  abandoned.catch(() => undefined); // observed through the race below
  let settled = false;
  // Through a promise, so a handler that throws before its first await fails the attempt too.
  const running = Promise.resolve().then(() =>
    handler(task.payload, {
      taskId: task.id,
      attempt,
      maxAttempts: task.maxAttempts,
      signal,
      progress: deps.progress,
      logger: deps.logger,
    }),
  );
  running.then(
    () => (settled = true),
    () => (settled = true),
  );
  try {
    const result = await Promise.race([running, abandoned]);
    if (signal.aborted) return { kind: 'failed', error: signal.reason };
    return { kind: 'succeeded', result: result ?? null };
  } catch (err) {
    if (!settled) deps.onAbandoned();
    return { kind: 'failed', error: signal.aborted ? signal.reason : err };
  } finally {
    clearTimeout(timer);
    clearTimeout(abandonTimer);
    deps.shutdown.removeEventListener('abort', onShutdown);
    unregister();
  }
}
