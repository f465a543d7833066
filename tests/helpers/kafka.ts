import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage, type Message } from 'kafkajs';
import { eventually, testKafka } from './stack';

/** The shared broker's client, or one for `brokers` (a private broker of a test that stops it). */
function kafkaFor(brokers?: string): Kafka {
  return brokers === undefined
    ? testKafka()
    : new Kafka({ clientId: 'spillway-tests', brokers: [brokers], logLevel: logLevel.NOTHING });
}

/** Reads from the beginning with a throwaway group until `done` holds or `timeoutMs` passes. */
async function consume(
  topic: string,
  done: (messages: KafkaMessage[]) => boolean,
  timeoutMs: number,
  brokers?: string,
): Promise<{ messages: KafkaMessage[]; complete: boolean }> {
  const consumer = kafkaFor(brokers).consumer({ groupId: `test-reader-${randomUUID()}` });
  const messages: KafkaMessage[] = [];
  // A rebalance of the throwaway group can hand a partition over before its offsets are
  // committed, so a message may arrive twice; each counts once.
  const seen = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const complete = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const position = `${partition}:${message.offset}`;
          if (seen.has(position)) return;
          seen.add(position);
          messages.push(message);
          if (done(messages)) {
            clearTimeout(timer);
            resolve(true);
          }
        },
      });
    });
    return { messages, complete };
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Reads a topic from the beginning with a throwaway group until `count` messages arrived, from
 * the shared broker unless `brokers` names another.
 */
export async function readTopic(
  topic: string,
  count: number,
  timeoutMs = 20_000,
  brokers?: string,
): Promise<KafkaMessage[]> {
  const { messages, complete } = await consume(topic, (read) => read.length >= count, timeoutMs, brokers);
  if (!complete)
    throw new Error(`read ${messages.length} of ${count} messages from ${topic} in ${timeoutMs} ms`);
  return messages;
}

/**
 * Reads a topic from the beginning until `done` holds for what was read, for when the number of
 * messages is not known (sends still landing); after `timeoutMs` it returns what arrived, so the
 * caller's assertion can name what is missing.
 */
export async function readTopicUntil(
  topic: string,
  done: (messages: KafkaMessage[]) => boolean,
  timeoutMs = 20_000,
  brokers?: string,
): Promise<KafkaMessage[]> {
  return (await consume(topic, done, timeoutMs, brokers)).messages;
}

/** Writes messages to a topic in one request with a throwaway producer, as a non-Spillway producer would. */
export async function produce(topic: string, messages: Message[]): Promise<void> {
  const producer = testKafka().producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Writes raw values to a topic. */
export function writeRaw(topic: string, values: (string | Buffer | null)[]): Promise<void> {
  return produce(
    topic,
    values.map((value) => ({ value })),
  );
}

/**
 * Waits until `groupId` has committed every partition of `topic` to its end, and returns the end
 * offsets by partition: "everything on the topic was processed and nothing will be redelivered".
 */
export async function committedToEnd(
  groupId: string,
  topic: string,
  timeoutMs = 15_000,
): Promise<Record<number, string>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const end = Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
    await eventually(
      async () => {
        const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const committed = Object.fromEntries((group?.partitions ?? []).map((p) => [p.partition, p.offset]));
        return JSON.stringify(committed) === JSON.stringify(end) ? true : undefined;
      },
      timeoutMs,
      'offsets committed to the end of every partition',
    );
    return end;
  } finally {
    await admin.disconnect();
  }
}

/** Waits until `groupId` has committed `partition` of `topic` up to `offset`. */
export async function committedTo(
  groupId: string,
  topic: string,
  partition: number,
  offset: number,
  timeoutMs = 30_000,
): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await eventually(
      async () => {
        const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const p = group?.partitions.find((x) => x.partition === partition);
        return Number(p?.offset) === offset ? true : undefined;
      },
      timeoutMs,
      `partition ${partition} committed to ${offset}`,
    );
  } finally {
    await admin.disconnect();
  }
}
