import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../tests/helpers/redis-server';
import type { ChaosCluster } from './cluster';
import { ServiceProcess } from './service';

/**
 * How long a worker whose consumer died may take to exit: its drain (SHUTDOWN_TIMEOUT_MS, 5 s
 * here) plus leaving the groups, with room for a busy machine.
 */
const EXIT_AFTER_DEAD_MS = 30_000;

export const HANDLERS_MODULE = join(__dirname, '..', 'tests', 'fixtures', 'chaos-handlers.js');

export interface DeploymentOptions {
  workers: number;
  /** WORKER_CONCURRENCY of each worker. */
  concurrency: number;
  /** Extra variables for the API / the workers (they win over the defaults below). */
  apiEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
}

/** Names a queue after the scenario, unique per run: its topics, groups and keys are its own. */
export function chaosQueue(scenario: string): string {
  return `chaos-${scenario}-${randomBytes(3).toString('hex')}`.slice(0, 63);
}

/**
 * One scenario's Spillway: an API process and a set of worker processes on one queue, against
 * the cluster's private Kafka and Redis. Processes are replaced, never restarted in place: each
 * start is a new ServiceProcess with a new name, and every one that ever ran is kept in `history`.
 */
export class Deployment {
  readonly runsDir: string;
  readonly history: ServiceProcess[] = [];
  /** Workers that exited with a consumer that crashed for good, and their replacements. */
  readonly incidents: string[] = [];
  private stopping = false;
  api!: ServiceProcess;
  workers: ServiceProcess[] = [];
  private apiPort = 0;
  private workerSerial = 0;

  constructor(
    readonly cluster: ChaosCluster,
    readonly queue: string,
    readonly options: DeploymentOptions,
  ) {
    this.runsDir = join(cluster.dir, queue);
    mkdirSync(this.runsDir, { recursive: true });
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /** The environment both processes share. */
  private commonEnv(): Record<string, string> {
    return {
      SPILLWAY_QUEUE: this.queue,
      KAFKA_BROKERS: this.cluster.brokers,
      REDIS_URL: this.cluster.redisUrl,
      KAFKA_TASK_PARTITIONS: '6',
      TASK_TTL_SECONDS: '7200',
      // info: rare lines only (start, shutdown, group joins), and the joins tell when partitions moved.
      LOG_LEVEL: 'info',
    };
  }

  /** Starts the API and the workers and waits until every one is ready. */
  async start(): Promise<void> {
    this.apiPort = await freePort();
    // All at once: each creates the topics it misses, and kafkajs takes "already exists" as done.
    const processes = [this.startApi()];
    for (let i = 0; i < this.options.workers; i++) processes.push(await this.startWorker());
    await Promise.all(processes.map((p) => this.readyOrReplaced(p)));
    await this.groupSettled();
  }

  /**
   * Waits for a worker to be ready, or for its replacement to be: a worker whose consumer crashed
   * for good exits (see replaceIfConsumerDied). One that does not exit within EXIT_AFTER_DEAD_MS
   * is an error: it would sit idle in production.
   */
  async readyOrReplaced(process: ServiceProcess, attempts = 3): Promise<void> {
    try {
      await process.ready(120_000);
    } catch (err) {
      if (!process.deadConsumer || attempts <= 1) throw err;
      const exited = await Promise.race([
        process.exited,
        sleep(EXIT_AFTER_DEAD_MS, undefined, { ref: false }).then(() => undefined),
      ]);
      if (!exited || !process.replacement) {
        throw new Error(`${process.name} did not exit after its consumer crashed for good: ${String(err)}`);
      }
      await this.readyOrReplaced(await process.replacement, attempts - 1);
    }
  }

  /**
   * What Kubernetes does for a container that exits: a worker whose Kafka consumer died for good
   * (kafkajs will not restart it) ends its process, and a new one is started in its place.
   * Workers the scenario retired (killed or stopped on purpose) are not replaced here, nor is a
   * worker that exited for another reason: that one is a failure the scenario reports.
   */
  private replaceIfConsumerDied(worker: ServiceProcess): void {
    if (!worker.deadConsumer || !this.workers.includes(worker) || this.stopping) return;
    this.retire(worker);
    worker.replacement = this.startWorker();
    void worker.replacement.then((replacement) =>
      this.incidents.push(
        `${worker.name} exited after its consumer crashed for good (${worker.deadConsumer}); ` +
          `${replacement.name} started in its place`,
      ),
    );
  }

  /**
   * Waits until the workers' consumer group has been quiet for a while: each worker is ready once
   * it joined, but a later joiner makes the others join again, and those joins are not the
   * scenario's doing.
   */
  async groupSettled(quietMs = 2000, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = Math.max(0, ...this.workers.flatMap((w) => w.joins));
      if (Date.now() - last >= quietMs || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** A new API process on the same port as before (clients keep their URL). */
  startApi(): ServiceProcess {
    this.api = new ServiceProcess(
      'api',
      `api-${this.history.filter((p) => p.service === 'api').length + 1}`,
      this.apiPort,
      {
        ...this.commonEnv(),
        PUBLISH_TIMEOUT_MS: '2000',
        ...this.options.apiEnv,
      },
    );
    this.history.push(this.api);
    return this.api;
  }

  /** A new worker process; it joins the group (and takes partitions) once ready. */
  async startWorker(): Promise<ServiceProcess> {
    const worker = new ServiceProcess('worker', `worker-${++this.workerSerial}`, await freePort(), {
      ...this.commonEnv(),
      WORKER_CONCURRENCY: String(this.options.concurrency),
      COMMIT_INTERVAL_MS: '500',
      SHUTDOWN_TIMEOUT_MS: '5000',
      RETRY_BASE_DELAY_MS: '200',
      RETRY_MAX_DELAY_MS: '2000',
      HANDLERS_MODULE,
      CHAOS_RUNS_DIR: this.runsDir,
      ...this.options.workerEnv,
    });
    this.workers.push(worker);
    this.history.push(worker);
    void worker.exited.then(() => this.replaceIfConsumerDied(worker));
    return worker;
  }

  /** Takes a worker out of the running set (before killing or terminating it). */
  retire(worker: ServiceProcess): void {
    this.workers = this.workers.filter((w) => w !== worker);
  }

  /** Every process of the deployment that is still alive gets SIGTERM, then SIGKILL after a grace. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.history.map((p) => p.stop()));
  }

  /**
   * Workers whose consumer crashed for good but which are still running after EXIT_AFTER_DEAD_MS,
   * with the error: each should have ended its process.
   */
  async runningWithDeadConsumer(): Promise<string[]> {
    const dead = this.history.filter((p) => p.deadConsumer);
    await Promise.race([
      Promise.all(dead.map((p) => p.exited)),
      sleep(EXIT_AFTER_DEAD_MS, undefined, { ref: false }),
    ]);
    return dead.filter((p) => p.alive).map((p) => `${p.name}: ${p.deadConsumer}`);
  }

  /** Every join at or after `since`, for the timeline: who got which partitions when. */
  joinEvents(since: number): { at: number; event: string }[] {
    return this.history.flatMap((p) =>
      p.joins.flatMap((at, i) =>
        at >= since ? [{ at, event: `${p.name} joined (partitions ${p.assignments[i] || 'none'})` }] : [],
      ),
    );
  }

  /** Consumer group joins of the workers at or after `since` (epoch ms): each is a rebalance. */
  joinsSince(since: number): number {
    return this.history.reduce((n, p) => n + p.joins.filter((at) => at >= since).length, 0);
  }

  /** Error-level messages of every process, by message (numbers blanked), most frequent first. */
  errorSummary(): string[] {
    const counts = new Map<string, number>();
    for (const p of this.history) {
      for (const [message, n] of p.errors) counts.set(message, (counts.get(message) ?? 0) + n);
    }
    return [...counts].sort((a, b) => b[1] - a[1]).map(([message, n]) => `${n} × ${message}`);
  }
}
