import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { withTimeout } from '../timeout';

/**
 * Reads a topic from its first retained message up to its end as it was when the read began,
 * handing every message to `each` in order within a partition. kafkajs consumes only through a
 * group, so this uses a throwaway one (`<groupPrefix>.<uuid>`) and deletes it afterwards: the read
 * commits nothing anyone else sees.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  groupPrefix: string,
  each: (value: Buffer | null, partition: number, offset: string) => Promise<void>,
  timeoutMs = 120_000,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${groupPrefix}.${randomUUID()}`;
  try {
    // Where each partition ends now; what arrives later is left for the next read.
    const remaining = new Map(
      (await admin.fetchTopicOffsets(topic))
        .filter((p) => Number(p.high) > Number(p.low))
        .map((p) => [p.partition, Number(p.high)]),
    );
    if (remaining.size === 0) return 0;
    let read = 0;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          consumer
            .run({
              autoCommit: false,
              eachMessage: async ({ partition, message }) => {
                const end = remaining.get(partition);
                if (end === undefined || Number(message.offset) >= end) return;
                await each(message.value, partition, message.offset);
                read++;
                if (Number(message.offset) + 1 >= end) remaining.delete(partition);
                if (remaining.size === 0) resolve();
              },
            })
            .catch(reject);
        }),
        timeoutMs,
        `reading ${topic} to its end`,
      );
    } finally {
      await consumer.disconnect();
    }
    return read;
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
