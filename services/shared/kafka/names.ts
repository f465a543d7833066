/**
 * The only place Kafka topic and consumer group names are built. The chart derives the same
 * names from the same queue value (charts/spillway), so KEDA watches the group workers join.
 */
export interface KafkaNames {
  tasksTopic: string;
  workerGroup: string;
}

export function kafkaNames(queue: string): KafkaNames {
  return {
    tasksTopic: `spillway.${queue}.tasks`,
    workerGroup: `spillway.${queue}.workers`,
  };
}
