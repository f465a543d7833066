/**
 * Spillway for the fan-out scenario: the API and worker of `spillway`, with callbacks to loopback
 * allowed (the bench's receiver listens on 127.0.0.1, which the callback address policy refuses by
 * default) and a worker that also runs FANOUT_TYPE, a parent whose handler spawns the children.
 */
import type { JsonValue } from '../../services/shared/task';
import type { Handler } from '../../services/worker/handlers';
import { built } from './built';
import { env, logger } from './spillway';
import type { StartOptions, Starter } from './types';

const { loadApiConfig } = built<typeof import('../../services/api/config')>('api/config');
const { startApi } = built<typeof import('../../services/api/main')>('api/main');
const { loadWorkerConfig } = built<typeof import('../../services/worker/config')>('worker/config');
const { startWorker } = built<typeof import('../../services/worker/main')>('worker/main');
const { HandlerRegistry } = built<typeof import('../../services/worker/handlers')>('worker/handlers');
const { registerDemoHandlers, registerOperationalHandlers } =
  built<typeof import('../../services/worker/demo-handlers')>('worker/demo-handlers');

/** The parent's task type; its payload is `{ children, childType }`. */
export const FANOUT_TYPE = 'bench-fanout';

/** What the parent's handler returns, so its record (and callback) carry the spawn's own time. */
export interface FanoutResult {
  children: number;
  spawnMs: number;
}

/**
 * Spawns `children` no-op children of `childType` (the demo `echo`) in one ctx.spawn, waiting for
 * them: the parent goes to `waiting-children` and finishes, and its callback goes out, once the
 * last child is terminal. Times the spawn alone (ids, batch admission, Kafka, queued records).
 */
const fanout: Handler = async (payload, ctx) => {
  const { children, childType } = payload as { children: number; childType: string };
  const tasks = Array.from({ length: children }, () => ({ type: childType }));
  const started = performance.now();
  const spawned = await ctx.spawn(tasks, { wait: true });
  const result: FanoutResult = {
    children: spawned.taskIds.length,
    spawnMs: performance.now() - started,
  };
  return result as unknown as JsonValue;
};

const fanoutEnv = (o: StartOptions) => ({ ...env(o), CALLBACK_ALLOW_CIDRS: '127.0.0.0/8' });

export const startSpillwayFanoutApi: Starter = (o) => startApi(loadApiConfig(fanoutEnv(o)), logger);

export const startSpillwayFanoutWorker: Starter = (o) => {
  // The registry startWorker builds by default (its demo types), plus the parent's type.
  const handlers = registerDemoHandlers(registerOperationalHandlers(new HandlerRegistry()));
  handlers.register(FANOUT_TYPE, fanout);
  return startWorker(
    loadWorkerConfig({ ...fanoutEnv(o), WORKER_CONCURRENCY: String(o.concurrency) }),
    logger,
    handlers,
  );
};
