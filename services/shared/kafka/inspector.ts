import { errorMessage, UnavailableError } from '../errors';
import type { Admin, Kafka } from 'kafkajs';
import type { ReadinessCheck } from '../http/probes';

export interface PartitionLag {
  partition: number;
  latestOffset: number;
  /** null when the group has committed nothing on this partition yet. */
  committedOffset: number | null;
  lag: number;
}

/**
 * Read-only questions to the cluster (is it up, how far behind is a group) through one admin
 * client. Give it a Kafka client that does not retry (createKafka with retries: 0): a broker
 * that is down then fails a probe within the connection timeout, not after kafkajs' backoff.
 */
export class KafkaInspector implements ReadinessCheck {
  readonly name = 'kafka';
  private admin?: Admin;

  constructor(private readonly kafka: Kafka) {}

  async check(): Promise<void> {
    await (await this.connected()).describeCluster();
  }

  /** Messages on `topic` the group has not committed, per partition. */
  async lag(groupId: string, topic: string): Promise<PartitionLag[]> {
    let latest, committed;
    try {
      const admin = await this.connected();
      [latest, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
    } catch (err) {
      // A broker down, or one still electing the group's coordinator (a fresh broker creates its
      // offsets topic on the first group request): Kafka's state, not a fault of the request.
      throw new UnavailableError(
        `Kafka did not answer about the consumer group (${errorMessage(err)}); try again`,
      );
    }
    const committedBy = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]));
    return latest
      .map(({ partition, high, low }) => {
        const offset = committedBy.get(partition) ?? -1;
        // No commit yet: workers start from the beginning, so everything retained is lag.
        const from = offset >= 0 ? offset : Number(low);
        return {
          partition,
          latestOffset: Number(high),
          committedOffset: offset >= 0 ? offset : null,
          lag: Math.max(0, Number(high) - from),
        };
      })
      .sort((a, b) => a.partition - b.partition);
  }

  async close(): Promise<void> {
    await this.admin?.disconnect();
  }

  private async connected(): Promise<Admin> {
    this.admin ??= this.kafka.admin();
    await this.admin.connect();
    return this.admin;
  }
}
