import { createLogger } from '../../services/shared/logger';
import { TaskCancelledError, type Abortable } from '../../services/shared/redis/cancel-listener';
import type { JsonValue, TaskMessage } from '../../services/shared/task';
import type { Handler } from '../../services/worker/handlers';
import {
  ABANDON_GRACE_MS,
  AttemptTimeoutError,
  runHandler,
  ShutdownInterruption,
  type HandlerRunDeps,
} from '../../services/worker/handler-run';

/**
 * The handler's signal is made only when the handler reads it (see Attempt in handler-run.ts):
 * whenever it is read, before or after the abort, it must say what aborted the attempt.
 */
describe('runHandler', () => {
  const task = (id: string, timeoutMs?: number): TaskMessage => ({
    id,
    type: 't',
    payload: null,
    enqueuedAt: Date.now(),
    maxAttempts: 3,
    ...(timeoutMs !== undefined && { timeoutMs }),
  });
  /** The worker's side of an attempt: its shutdown signal, and the cancellations it registers. */
  const worker = (shutdown = new AbortController()) => {
    const registered = new Map<string, Abortable>();
    const abandoned: number[] = [];
    const deps: HandlerRunDeps = {
      logger: createLogger('silent'),
      shutdown: shutdown.signal,
      cancellations: {
        register: (id, attempt) => {
          registered.set(id, attempt);
          return () => registered.delete(id);
        },
      },
      progress: async () => undefined,
      spawn: () => Promise.reject(new Error('not in this test')),
      onAbandoned: () => abandoned.push(Date.now()),
    };
    return { deps, shutdown, registered, abandoned };
  };
  /** Resolves once `signal` aborts (it may have already). */
  const aborted = (signal: AbortSignal) =>
    new Promise<unknown>((resolve) => {
      if (signal.aborted) resolve(signal.reason);
      else signal.addEventListener('abort', () => resolve(signal.reason));
    });

  it('succeeds with what the handler resolves to, unregistered afterwards', async () => {
    const w = worker();
    const outcome = await runHandler(async () => ({ ok: true }), task('a'), 1, w.deps);
    expect(outcome).toEqual({ kind: 'succeeded', result: { ok: true } });
    expect(w.registered.size).toBe(0);
  });

  it('fails with what the handler throws, even before its first await', async () => {
    const boom: Handler<JsonValue> = () => {
      throw new Error('boom');
    };
    const outcome = await runHandler(boom, task('a'), 1, worker().deps);
    expect(outcome).toMatchObject({ kind: 'failed', error: { message: 'boom' } });
  });

  it('times out: a signal read before the timeout fires, one read after it is already aborted', async () => {
    const readEarly: Handler<JsonValue> = async (_p, ctx) => {
      throw await aborted(ctx.signal);
    };
    const early = await runHandler(readEarly, task('a', 50), 1, worker().deps);
    expect(early.kind === 'failed' && early.error).toBeInstanceOf(AttemptTimeoutError);

    let late: AbortSignal | undefined;
    const readLate: Handler<JsonValue> = async (_p, ctx) => {
      await new Promise((r) => setTimeout(r, 150));
      late = ctx.signal;
      return 'done anyway';
    };
    const outcome = await runHandler(readLate, task('b', 50), 1, worker().deps);
    // The abort's reason is the outcome, whatever the handler did after it.
    expect(outcome.kind === 'failed' && outcome.error).toBeInstanceOf(AttemptTimeoutError);
    expect(late?.aborted).toBe(true);
    expect(late?.reason).toBeInstanceOf(AttemptTimeoutError);
  });

  it('is cancelled through what it registered, with the cancellation as its reason', async () => {
    const w = worker();
    const running = runHandler(
      async (_p, ctx) => Promise.reject(await aborted(ctx.signal)),
      task('c'),
      1,
      w.deps,
    );
    await new Promise((r) => setImmediate(r));
    w.registered.get('c')!.abort(new TaskCancelledError('c'));
    const outcome = await running;
    expect(outcome.kind === 'failed' && outcome.error).toBeInstanceOf(TaskCancelledError);
  });

  it('interrupts every running attempt on shutdown, each with its own task id, and any started after', async () => {
    const w = worker();
    const waitForAbort: Handler<JsonValue> = async (_p, ctx) => Promise.reject(await aborted(ctx.signal));
    const running = ['d1', 'd2', 'd3'].map((id) => runHandler(waitForAbort, task(id), 1, w.deps));
    // One already over: shutdown must not touch it.
    await runHandler(async () => 'quick', task('d0'), 1, w.deps);
    await new Promise((r) => setImmediate(r));
    w.shutdown.abort();
    const outcomes = await Promise.all(running);
    for (const [i, outcome] of outcomes.entries()) {
      const error = outcome.kind === 'failed' ? outcome.error : undefined;
      expect(error).toBeInstanceOf(ShutdownInterruption);
      expect((error as Error).message).toContain(`d${i + 1}`);
    }

    let signalSeen: AbortSignal | undefined;
    const after = await runHandler(
      async (_p, ctx) => {
        signalSeen = ctx.signal;
        return 'ran';
      },
      task('d4'),
      1,
      w.deps,
    );
    expect(after.kind === 'failed' && after.error).toBeInstanceOf(ShutdownInterruption);
    expect(signalSeen?.aborted).toBe(true);
  });

  it('abandons a handler that ignores its aborted signal, ABANDON_GRACE_MS after the abort', async () => {
    const w = worker();
    const started = Date.now();
    const outcome = await runHandler(() => new Promise(() => undefined), task('e', 50), 1, w.deps);
    expect(outcome.kind === 'failed' && outcome.error).toBeInstanceOf(AttemptTimeoutError);
    expect(w.abandoned).toHaveLength(1);
    expect(w.abandoned[0]! - started).toBeGreaterThanOrEqual(50 + ABANDON_GRACE_MS - 5);
  });
});
