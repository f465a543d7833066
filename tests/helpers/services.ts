import { loadApiConfig } from '../../services/api/config';
import { startApi, type RunningApi } from '../../services/api/main';
import { loadWorkerConfig } from '../../services/worker/config';
import { startWorker, type RunningWorker } from '../../services/worker/main';
import { KAFKA_BROKERS, quietLogger, REDIS_URL } from './stack';

/** The real API wiring, in-process, on a free port, against the local stack. */
export async function apiFor(
  queue: string,
  env: Record<string, string> = {},
): Promise<RunningApi & { url: string }> {
  const api = await startApi(
    loadApiConfig({
      PORT: '0',
      SPILLWAY_QUEUE: queue,
      KAFKA_BROKERS,
      REDIS_URL,
      KAFKA_TASK_PARTITIONS: '3',
      ...env,
    }),
    quietLogger,
  );
  return { ...api, url: `http://127.0.0.1:${api.port}` };
}

/** The real worker wiring, in-process, against the local stack. */
export async function workerFor(queue: string, env: Record<string, string> = {}): Promise<RunningWorker> {
  return startWorker(
    loadWorkerConfig({
      PORT: '0',
      SPILLWAY_QUEUE: queue,
      KAFKA_BROKERS,
      REDIS_URL,
      KAFKA_TASK_PARTITIONS: '3',
      ...env,
    }),
    quietLogger,
  );
}
