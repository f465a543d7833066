import { setTimeout as sleep } from 'node:timers/promises';
import { NonRetriableError, type HandlerRegistry } from './handlers';

/** Most iterations one `cpu` task may ask for: bounded, so a demo cannot pin a worker. */
const MAX_CPU_ITERATIONS = 50_000_000;

/** What every worker runs (OPERATIONAL_TASK_TYPES), demo handlers on or off. */
export function registerOperationalHandlers(registry: HandlerRegistry): HandlerRegistry {
  return registry.register('spillway.ping', async () => ({ pong: true }));
}

/**
 * The demo task types, so behaviour and benchmarks can be shown without writing a handler. A
 * worker registers them only with DEMO_HANDLERS=true (`npm run dev`, the tests, the benches):
 * in production `sleep` alone would let any client hold a slot for as long as its timeout.
 */
export function registerDemoHandlers(registry: HandlerRegistry): HandlerRegistry {
  return registry
    .register('echo', async (payload) => payload)
    .register('sleep', async (payload, { signal }) => {
      const ms = Number(payload?.ms);
      if (!Number.isFinite(ms) || ms < 0)
        throw new NonRetriableError('sleep needs {"ms": <non-negative number>}');
      await sleep(ms, undefined, { signal });
      return { sleptMs: ms };
    })
    .register('fail', async (payload) => {
      throw new Error(payload?.message ?? 'the fail task always fails');
    })
    .register('flaky', async (payload, { attempt }) => {
      const failTimes = Number(payload?.failTimes ?? 1);
      if (attempt <= failTimes) throw new Error(`flaky: attempt ${attempt} of the first ${failTimes} fails`);
      return { succeededOnAttempt: attempt };
    })
    .register('cpu', async (payload, { signal }) => {
      const iterations = Math.min(Number(payload?.iterations ?? 1_000_000), MAX_CPU_ITERATIONS);
      if (!Number.isFinite(iterations) || iterations < 0)
        throw new NonRetriableError('cpu needs {"iterations": n}');
      // Work in slices so the event loop (heartbeats, other tasks) keeps turning.
      let x = 0;
      for (let done = 0; done < iterations; done += 100_000) {
        signal.throwIfAborted();
        for (let i = 0; i < Math.min(100_000, iterations - done); i++) x = (x * 31 + i) % 1_000_003;
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { iterations, checksum: x };
    });
}
