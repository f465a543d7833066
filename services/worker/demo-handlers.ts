import { setTimeout as sleep } from 'node:timers/promises';
import type { HandlerRegistry } from './handlers';

/** The built-in task types, so behaviour can be shown without writing a handler. */
export function registerDemoHandlers(registry: HandlerRegistry): HandlerRegistry {
  return registry
    .register('echo', async (payload) => payload)
    .register('sleep', async (payload, { signal }) => {
      const ms = Number(payload?.ms);
      if (!Number.isFinite(ms) || ms < 0) throw new TypeError('sleep needs {"ms": <non-negative number>}');
      await sleep(ms, undefined, { signal });
      return { sleptMs: ms };
    })
    .register('fail', async (payload) => {
      throw new Error(payload?.message ?? 'the fail task always fails');
    });
}
