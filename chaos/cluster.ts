import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateKafka } from '../tests/helpers/kafka-server';
import { freePort, PrivateRedis } from '../tests/helpers/redis-server';

/**
 * The servers a chaos run owns: its own Kafka broker and its own redis-server, on free ports, so
 * stopping them disturbs nothing else on the machine (the shared local stack keeps running).
 * Every scenario uses its own queue on them: its own topics, consumer groups and Redis keys.
 */
export class ChaosCluster {
  /** Where the handlers fixture logs its runs, one subfolder per scenario. */
  readonly dir = mkdtempSync(join(tmpdir(), 'spillway-chaos-'));

  private constructor(
    readonly kafka: PrivateKafka,
    readonly redis: PrivateRedis,
    /** False for a cluster that borrows another's broker (withOwnRedis): its dispose leaves it. */
    private readonly ownsKafka: boolean,
  ) {}

  /** Starts both servers (the broker's JVM takes ~10 s on two cores, more on a busy machine). */
  static async start(): Promise<ChaosCluster> {
    const kafka = await PrivateKafka.create();
    const redis = await ChaosCluster.redisServer();
    await kafka.start();
    return new ChaosCluster(kafka, redis, true);
  }

  /** Append-only: what Redis acknowledged survives a stop and start, as with a persistent volume. */
  private static async redisServer(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), { appendOnly: true });
    await redis.start();
    return redis;
  }

  /**
   * The same broker with a Redis of its own: a scenario that stops Redis can run beside others
   * (each scenario has its own queue on the broker).
   */
  async withOwnRedis(): Promise<ChaosCluster> {
    return new ChaosCluster(this.kafka, await ChaosCluster.redisServer(), false);
  }

  get brokers(): string {
    return this.kafka.brokers;
  }

  get redisUrl(): string {
    return this.redis.url;
  }

  /** Stops the servers it owns and deletes their files. */
  async dispose(): Promise<void> {
    await Promise.allSettled([this.ownsKafka ? this.kafka.dispose() : undefined, this.redis.stop()]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
