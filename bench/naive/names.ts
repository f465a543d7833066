import { Kafka, logLevel } from 'kafkajs';
import { ensureTopics } from '../../services/shared/kafka/client';
import { KAFKA_BROKERS } from '../stack';

/** The naive design's topic, group and status keys; prefixed so they never meet Spillway's. */
export const naiveNames = (queue: string) => ({
  topic: `naive.${queue}.tasks`,
  group: `naive.${queue}.workers`,
  statusKey: (id: string) => `naive:${queue}:task:${id}`,
});

export const naiveKafka = () =>
  new Kafka({ clientId: 'naive', brokers: [KAFKA_BROKERS], logLevel: logLevel.ERROR });

/** Created up front with as many partitions as Spillway's topic gets, so both designs see the same layout. */
export async function createNaiveTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Spillway's topic helper: it waits out the "unknown topic" a busy broker answers while it
    // is still creating one. Not part of what is measured.
    await ensureTopics(admin, [topic], partitions);
  } finally {
    await admin.disconnect();
  }
}
