import { randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { testKafka } from './stack';

/** Reads a topic from the beginning with a throwaway group until `count` messages arrived. */
export async function readTopic(topic: string, count: number, timeoutMs = 20_000): Promise<KafkaMessage[]> {
  const consumer = testKafka().consumer({ groupId: `test-reader-${randomUUID()}` });
  const messages: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`read ${messages.length} of ${count} messages from ${topic} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          messages.push(message);
          if (messages.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

/** Writes raw values to a topic, as a producer that is not Spillway would. */
export async function writeRaw(topic: string, values: (string | Buffer | null)[]): Promise<void> {
  const producer = testKafka().producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
}
