import type { Logger } from '../shared/logger';
import type { Abortable } from '../shared/redis/cancel-listener';
import type { JsonValue, TaskMessage } from '../shared/task';
import type { Handler, HandlerContext } from './handlers';

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
  cancellations: { register(id: string, attempt: Abortable): () => void };
  progress(value: JsonValue): Promise<void>;
  /** The handler ignored its aborted signal past the grace time and was left running. */
  onAbandoned(): void;
  /** ctx.spawn for this attempt. */
  spawn: HandlerContext['spawn'];
}

/**
 * One attempt's abort state. Its AbortSignal is made only when the handler reads it: most
 * handlers never do. An AbortController per task, with a listener on it and one added to and
 * removed from the shutdown signal (EventTarget is slow), cost a draining worker 74-80 µs of CPU
 * per task where this costs 64-67 (13.7-14.4k tasks/s against 11.9-13.4k, alternated runs on
 * the bench's machine). Every abort goes through abort(), so the reason is known either way.
 */
class Attempt implements Abortable {
  aborted = false;
  reason: unknown;
  /** Called on the first abort. */
  onAbort?: () => void;
  private controller?: AbortController;

  constructor(readonly taskId: string) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.onAbort?.();
  }
}

/** The attempts running under each shutdown signal, which one listener per signal interrupts. */
const runningUnder = new WeakMap<AbortSignal, Set<Attempt>>();

/** Interrupts the attempt when `shutdown` aborts; call the result once the attempt is over. */
function interruptOnShutdown(shutdown: AbortSignal, attempt: Attempt): () => void {
  if (shutdown.aborted) {
    attempt.abort(new ShutdownInterruption(attempt.taskId));
    return () => undefined;
  }
  let attempts = runningUnder.get(shutdown);
  if (!attempts) {
    const all = new Set<Attempt>();
    const interruptAll = () => all.forEach((a) => a.abort(new ShutdownInterruption(a.taskId)));
    shutdown.addEventListener('abort', interruptAll, { once: true });
    runningUnder.set(shutdown, (attempts = all));
  }
  attempts.add(attempt);
  return () => attempts.delete(attempt);
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
  const run = new Attempt(task.id);
  const timer = task.timeoutMs
    ? setTimeout(() => run.abort(new AttemptTimeoutError(task.timeoutMs!)), task.timeoutMs)
    : undefined;
  const stopInterrupting = interruptOnShutdown(deps.shutdown, run);
  const unregister = deps.cancellations.register(task.id, run);

  let abandonTimer: NodeJS.Timeout | undefined;
  let settled = false;
  try {
    const result = await new Promise<JsonValue | void>((resolve, reject) => {
      // Through a promise, so a handler that throws before its first await fails the attempt too.
      Promise.resolve()
        .then(() =>
          handler(task.payload, {
            taskId: task.id,
            attempt,
            maxAttempts: task.maxAttempts,
            get signal() {
              return run.signal;
            },
            progress: deps.progress,
            logger: deps.logger,
            spawn: deps.spawn,
          }),
        )
        .then(
          (value) => {
            settled = true;
            resolve(value);
          },
          (err: unknown) => {
            settled = true;
            reject(err);
          },
        );
      const abandonLater = () => {
        abandonTimer = setTimeout(() => reject(run.reason), ABANDON_GRACE_MS);
      };
      if (run.aborted) abandonLater();
      else run.onAbort = abandonLater;
    });
    if (run.aborted) return { kind: 'failed', error: run.reason };
    return { kind: 'succeeded', result: result ?? null };
  } catch (err) {
    if (!settled) deps.onAbandoned();
    return { kind: 'failed', error: run.aborted ? run.reason : err };
  } finally {
    clearTimeout(timer);
    clearTimeout(abandonTimer);
    stopInterrupting();
    unregister();
  }
}
