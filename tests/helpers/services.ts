import { loadApiConfig } from '../../services/api/config';
import { startApi, type RunningApi } from '../../services/api/main';
import { loadWorkerConfig } from '../../services/worker/config';
import { registerDemoHandlers, registerOperationalHandlers } from '../../services/worker/demo-handlers';
import { HandlerRegistry, type Handler } from '../../services/worker/handlers';
import { startWorker, type RunningWorker } from '../../services/worker/main';
import { KAFKA_BROKERS, quietLogger, REDIS_URL } from './stack';

const base = (queue: string) => ({
  PORT: '0',
  SPILLWAY_QUEUE: queue,
  KAFKA_BROKERS,
  REDIS_URL,
  KAFKA_TASK_PARTITIONS: '3',
  // Test records need not outlive the run; a developer's local Redis would otherwise only grow.
  TASK_TTL_SECONDS: '3600',
});

/** The real API wiring, in-process, on a free port, against the local stack. */
export async function apiFor(
  queue: string,
  env: Record<string, string> = {},
): Promise<RunningApi & { url: string }> {
  const api = await startApi(loadApiConfig({ ...base(queue), ...env }), quietLogger);
  return { ...api, url: `http://127.0.0.1:${api.port}` };
}

/** The real worker wiring, in-process, against the local stack. */
export async function workerFor(
  queue: string,
  env: Record<string, string> = {},
  handlers?: HandlerRegistry,
): Promise<RunningWorker & { url: string }> {
  const worker = await startWorker(loadWorkerConfig({ ...base(queue), ...env }), quietLogger, handlers);
  return { ...worker, url: `http://127.0.0.1:${worker.port}` };
}

/** The demo handlers plus `extra` ones, as a user's handlers module would add them. */
export function handlersWith(extra: Record<string, Handler>): HandlerRegistry {
  const registry = registerDemoHandlers(registerOperationalHandlers(new HandlerRegistry()));
  for (const [type, handler] of Object.entries(extra)) registry.register(type, handler);
  return registry;
}

/** A number from a /metrics page, 0 when the series does not exist yet. */
export async function metricValue(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
