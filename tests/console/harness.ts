import Redis from 'ioredis';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RedisKeys } from '../../services/shared/redis/keys';
import type { HandlerRegistry } from '../../services/worker/handlers';
import { ConsoleBrowser } from '../helpers/browser';
import { request, type Reply } from '../helpers/http';
import { deleteMatching } from '../helpers/redis-keys';
import { apiFor, handlersWith, workerFor } from '../helpers/services';
import { REDIS_URL, uniqueQueue } from '../helpers/stack';

/** Where `npm run build` writes the console, which the API serves (CONSOLE_DIR's default). */
const BUILT_CONSOLE = join(__dirname, '..', '..', 'dist', 'console');

/** The key every console test signs in with unless it says otherwise: API_KEYS, so every scope. */
export const ADMIN_KEY = 'console-admin-key-0123456789abcdef';

export interface ConsoleStackOptions {
  /** Added to the API's environment (API_KEYS is ADMIN_KEY unless given). */
  apiEnv?: Record<string, string>;
  /** Added to the worker's environment. */
  workerEnv?: Record<string, string>;
  /** The worker's handlers; the demo ones by default. */
  handlers?: HandlerRegistry;
}

/**
 * One test file's world: the real API and worker in-process on a fresh queue against the local
 * Kafka and Redis, and a browser on the API's console. `stop` undoes all of it.
 */
export class ConsoleStack {
  private constructor(
    readonly queue: string,
    readonly api: Awaited<ReturnType<typeof apiFor>>,
    readonly worker: Awaited<ReturnType<typeof workerFor>>,
    readonly browser: ConsoleBrowser,
  ) {}

  static async start(options: ConsoleStackOptions = {}): Promise<ConsoleStack> {
    // The API serves the console that `npm run build` and the tests' global setup bundle.
    if (!existsSync(join(BUILT_CONSOLE, 'index.html'))) {
      throw new Error(`no console built in ${BUILT_CONSOLE}: run npm run build first`);
    }
    const queue = uniqueQueue();
    const api = await apiFor(queue, { API_KEYS: ADMIN_KEY, RATE_LIMIT_PER_SECOND: '0', ...options.apiEnv });
    const worker = await workerFor(
      queue,
      {
        WORKER_CONCURRENCY: '4',
        RETRY_BASE_DELAY_MS: '100',
        RETRY_MAX_DELAY_MS: '500',
        ...options.workerEnv,
      },
      options.handlers ?? handlersWith({}),
    );
    try {
      return new ConsoleStack(queue, api, worker, await ConsoleBrowser.start(api.url));
    } catch (err) {
      await worker.stop();
      await api.stop();
      throw err;
    }
  }

  /** A call to the API with `key` (ADMIN_KEY by default). */
  call(method: string, path: string, json?: unknown, key = ADMIN_KEY): Promise<Reply> {
    return request(this.api.url, method, path, {
      headers: { authorization: `Bearer ${key}` },
      ...(json !== undefined && { json }),
    });
  }

  /** Submits one task; returns its id. */
  async submit(body: object, key = ADMIN_KEY): Promise<string> {
    const res = await this.call('POST', '/v1/tasks', body, key);
    if (res.status !== 202) throw new Error(`submission answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  }

  /** Submits tasks in one request; returns their ids in order. */
  async submitBatch(tasks: object[], key = ADMIN_KEY): Promise<string[]> {
    const res = await this.call('POST', '/v1/tasks/batch', { tasks }, key);
    if (res.status !== 202 || res.body.rejected !== 0) {
      throw new Error(`batch answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
    }
    return (res.body.results as { id: string }[]).map((r) => r.id);
  }

  /** The task's record once it finished (long-polled, bounded). */
  async finished(id: string, key = ADMIN_KEY): Promise<Reply['body']> {
    const res = await this.call('GET', `/v1/tasks/${id}?wait=30`, undefined, key);
    if (res.status !== 200) throw new Error(`task ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    if (!['succeeded', 'failed', 'cancelled'].includes(res.body.status)) {
      throw new Error(`task ${id} still ${res.body.status} after 30 s`);
    }
    return res.body;
  }

  async stop(): Promise<void> {
    // The browser first: its open event streams would hold the API's shutdown back.
    await this.browser.close().catch((err: unknown) => console.log(`browser close: ${String(err)}`));
    await this.worker.stop();
    await this.api.stop();
    const redis = new Redis(REDIS_URL);
    await deleteMatching(redis, `${new RedisKeys(this.queue).prefix}*`);
    await redis.quit();
  }
}
