import { Kafka, logLevel } from 'kafkajs';
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
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}
