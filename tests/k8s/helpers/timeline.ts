import { Kafka, logLevel, type Admin } from 'kafkajs';
import { kafkaNames } from '../../../services/shared/kafka/names';
import { clusterEnv } from './cluster';
import type { Release } from './release';

/** One look at the fleet: the group's lag beside what Kubernetes runs. */
export interface Sample {
  /** Epoch ms. */
  at: number;
  /** Messages on the tasks topic the worker group has not committed (as KEDA counts it, uncapped). */
  lag: number;
  /** The worker Deployment's spec.replicas: what the HPA (KEDA's) or helm asks for. */
  desired: number;
  /** Worker pods Ready (passing their readiness probe: in the consumer group, Redis answering). */
  ready: number;
}

/** The worker group's lag, read from Kafka the way KEDA's scaler reads it. */
export class LagReader {
  private readonly admin: Admin;
  private connected?: Promise<void>;

  constructor(private readonly queue: string) {
    this.admin = new Kafka({
      clientId: 'spillway-k8s-tests',
      brokers: [clusterEnv().kafka],
      logLevel: logLevel.NOTHING,
    }).admin();
  }

  async lag(): Promise<number> {
    this.connected ??= this.admin.connect();
    await this.connected;
    const { tasksTopic, workerGroup } = kafkaNames(this.queue);
    const [ends, [committed]] = await Promise.all([
      this.admin.fetchTopicOffsets(tasksTopic),
      this.admin.fetchOffsets({ groupId: workerGroup, topics: [tasksTopic] }),
    ]);
    const committedBy = new Map(committed!.partitions.map((p) => [p.partition, Number(p.offset)]));
    // No commit yet: the workers start from the beginning (offsetResetPolicy earliest).
    return ends.reduce((sum, p) => {
      const done = committedBy.get(p.partition) ?? -1;
      return sum + Number(p.high) - (done >= 0 ? done : Number(p.low));
    }, 0);
  }

  async close(): Promise<void> {
    if (this.connected) await this.admin.disconnect();
  }
}

/** Samples lag and worker replicas every `intervalMs` until stopped. */
export class FleetSampler {
  private readonly samples: Sample[] = [];
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly release: Release,
    private readonly lagReader: LagReader,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const started = Date.now();
        try {
          this.samples.push(await this.sample());
        } catch {
          // A missed look (the API server or Kafka busy for a moment) is a gap, not a failure.
        }
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, this.intervalMs - (Date.now() - started))),
        );
      }
    })();
  }

  async sample(): Promise<Sample> {
    const [lag, deployment] = await Promise.all([this.lagReader.lag(), this.release.workers()]);
    return {
      at: Date.now(),
      lag,
      desired: deployment.spec.replicas ?? 0,
      ready: deployment.status.readyReplicas ?? 0,
    };
  }

  /** The samples so far, while it keeps sampling. */
  get taken(): readonly Sample[] {
    return this.samples;
  }

  async stop(): Promise<Sample[]> {
    this.running = false;
    await this.loop;
    return this.samples;
  }
}
