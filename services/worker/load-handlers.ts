import { resolve } from 'node:path';
import { registerDemoHandlers, registerOperationalHandlers } from './demo-handlers';
import { HandlerRegistry } from './handlers';

type Register = (registry: HandlerRegistry) => unknown;

/**
 * The handlers a worker runs: `spillway.ping`, the demo types when `demo` (DEMO_HANDLERS), and
 * the user's own from HANDLERS_MODULE, a CommonJS module that exports `register(registry)` (as
 * its only export, as `register`, or as `default`). Users add handlers this way without touching
 * the runtime.
 */
export async function loadHandlers(modulePath: string | undefined, demo: boolean): Promise<HandlerRegistry> {
  const registry = registerOperationalHandlers(new HandlerRegistry());
  if (demo) registerDemoHandlers(registry);
  if (!modulePath) return registry;
  // require, not import(): the module is the user's CommonJS file, loaded from a path at start-up.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(resolve(modulePath)) as Register | { register?: Register; default?: Register };
  const register = typeof loaded === 'function' ? loaded : (loaded.register ?? loaded.default);
  if (typeof register !== 'function') {
    throw new Error(`HANDLERS_MODULE ${modulePath} must export register(registry)`);
  }
  await register(registry);
  return registry;
}
