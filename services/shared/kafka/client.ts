import { Kafka, logLevel as KafkaLogLevel, type Admin, type LogEntry } from 'kafkajs';
import type { CommonConfig } from '../config';
import type { Logger } from '../logger';
import { allTopics, type KafkaNames } from './names';

/** Builds the kafkajs client; connections open only when a producer, consumer or admin connects. */
export function createKafka(config: CommonConfig['kafka'], logger: Logger): Kafka {
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    connectionTimeout: 3000,
    logLevel: KafkaLogLevel.WARN,
    logCreator: () => (entry) => logKafkaEntry(logger, entry),
  });
}

function logKafkaEntry(logger: Logger, { level, namespace, log }: LogEntry): void {
  const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
  // kafkajs logs every error response at ERROR, including ones its caller retries or handles
  // (a topic another process just created, a coordinator still loading); the caller reports
  // what really failed, so these are debug lines.
  const handledByCaller = namespace === 'Connection' && message.startsWith('Response ');
  const at = handledByCaller
    ? 'debug'
    : level <= KafkaLogLevel.ERROR
      ? 'error'
      : level === KafkaLogLevel.WARN
        ? 'warn'
        : 'debug';
  logger[at](message, { component: 'kafkajs', namespace, ...fields });
}

/** At start-up, creates the queue's topics unless the deployment manages them (Strimzi KafkaTopic). */
export async function prepareTopics(
  kafka: Kafka,
  config: CommonConfig['kafka'],
  names: KafkaNames,
): Promise<void> {
  if (!config.createTopics) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, allTopics(names), config.taskPartitions);
  } finally {
    await admin.disconnect();
  }
}

/** Creates missing topics; existing ones are left as they are (their partition count included). */
export async function ensureTopics(admin: Admin, topics: string[], numPartitions: number): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((topic) => !existing.has(topic));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions, replicationFactor: -1 })),
    });
  } catch (err) {
    // Another process created it between our list and create: that is the outcome we wanted.
    if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
  }
}
