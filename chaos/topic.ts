import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';

export interface TopicMessage {
  partition: number;
  offset: string;
  value: Buffer | null;
}

function kafkaFor(brokers: string): Kafka {
  return new Kafka({ clientId: 'spillway-chaos', brokers: [brokers], logLevel: logLevel.NOTHING });
}

/**
 * Reads every message a topic holds now, from the beginning to each partition's end as it was
 * when the read started, with a throwaway consumer group. Throws if the end is not reached in time.
 */
export async function readTopicToEnd(
  brokers: string,
  topic: string,
  timeoutMs = 60_000,
): Promise<TopicMessage[]> {
  const kafka = kafkaFor(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) ends.set(p.partition, BigInt(p.high));
  } finally {
    await admin.disconnect();
  }
  const remaining = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  if (remaining.size === 0) return [];
  const consumer = kafka.consumer({ groupId: `chaos-reader-${randomUUID()}` });
  const messages: TopicMessage[] = [];
  // A rebalance of the throwaway group can hand a message over twice; each position counts once.
  const seen = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const complete = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          const end = ends.get(batch.partition) ?? 0n;
          for (const message of batch.messages as KafkaMessage[]) {
            const offset = BigInt(message.offset);
            if (offset >= end) break;
            const position = `${batch.partition}:${message.offset}`;
            if (seen.has(position)) continue;
            seen.add(position);
            messages.push({ partition: batch.partition, offset: message.offset, value: message.value });
            if (offset + 1n >= end) remaining.delete(batch.partition);
          }
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve(true);
          }
        },
      });
    });
    if (!complete) {
      throw new Error(
        `read ${messages.length} messages of ${topic}, partitions ${[...remaining].join(',')} unfinished`,
      );
    }
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

/** Writes each value to its partition, one request each (in order), and returns where each landed. */
export async function writeToPartitions(
  brokers: string,
  topic: string,
  messages: { partition: number; value: Buffer | string | null }[],
): Promise<{ partition: number; offset: string }[]> {
  const producer = kafkaFor(brokers).producer();
  await producer.connect();
  try {
    const placed = [];
    for (const { partition, value } of messages) {
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ value, partition }] });
      placed.push({ partition: meta!.partition, offset: meta!.baseOffset ?? '' });
    }
    return placed;
  } finally {
    await producer.disconnect();
  }
}
