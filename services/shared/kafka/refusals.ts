import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';

/**
 * Kafka answered, and said no for good: the same send would be refused again however long it is
 * retried (a message over the topic's max.message.bytes, a missing ACL, a topic that does not
 * exist). Unlike UnavailableError this is not "try later": retrying it forever would wedge the
 * partition whose task needs the send.
 */
export class KafkaRefusedError extends Error {
  constructor(
    /** Kafka's error name, e.g. MESSAGE_TOO_LARGE. */
    readonly kafkaType: string,
    message: string,
  ) {
    super(message);
    this.name = 'KafkaRefusedError';
  }
}

/** Kafka error types that no retry can change. */
const FINAL = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'POLICY_VIOLATION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  // kafkajs retries this one (metadata may lag a topic's creation), then gives up with it as the
  // cause: by then the topic does not exist, and the services create theirs at start-up.
  'UNKNOWN_TOPIC_OR_PARTITION',
]);

/** The final refusal behind a kafkajs error (itself or a cause), as a KafkaRefusedError; else undefined. */
export function kafkaRefusal(err: unknown): KafkaRefusedError | undefined {
  for (let e = err as { type?: unknown; message?: unknown; cause?: unknown } | undefined; e;) {
    if (typeof e.type === 'string' && FINAL.has(e.type)) {
      return new KafkaRefusedError(e.type, `Kafka refused the message: ${e.type} (${String(e.message)})`);
    }
    e = e.cause as typeof e;
  }
  return undefined;
}

/**
 * The largest message every one of `topics` accepts: their max.message.bytes (the broker's
 * message.max.bytes unless the topic overrides it). It also bounds a whole batch of messages to
 * one partition, as Kafka checks it per record batch.
 */
export async function messageLimit(admin: Admin, topics: string[]): Promise<number> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({
      type: ConfigResourceTypes.TOPIC,
      name,
      configNames: ['max.message.bytes'],
    })),
  });
  const limits = resources.map((r) =>
    Number(r.configEntries.find((c) => c.configName === 'max.message.bytes')?.configValue),
  );
  if (limits.some((n) => !Number.isFinite(n) || n <= 0)) {
    throw new Error(`could not read max.message.bytes of ${topics.join(', ')}`);
  }
  return Math.min(...limits);
}

/** messageLimit() on a connection of its own, as the services read it once at start-up. */
export async function readMessageLimit(kafka: Kafka, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await messageLimit(admin, topics);
  } finally {
    await admin.disconnect();
  }
}
