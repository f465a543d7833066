/**
 * The only place Kafka topic and consumer group names are built. The chart derives the same
 * names from the same queue value (charts/spillway), so KEDA watches the group workers join.
 */
export interface DelayTier {
  topic: string;
  /** How long a message waits in this tier's topic before the scheduler looks at it again. */
  delayMs: number;
}

export interface KafkaNames {
  tasksTopic: string;
  workerGroup: string;
  /** Shortest delay first. See delay-tiers.ts for how a delayed task travels through them. */
  delayTiers: readonly DelayTier[];
  schedulerGroup: string;
  /** Tasks given up on (services/shared/dead-letter.ts), kept for inspection and replay. */
  deadLetterTopic: string;
}

/** Tier delays: each roughly ten times the last, so any delay takes few hops and arrives on time. */
export const DELAY_TIER_MS = [1_000, 10_000, 60_000, 600_000, 3_600_000] as const;

const tierLabel = (ms: number) =>
  ms >= 3_600_000 ? `${ms / 3_600_000}h` : ms >= 60_000 ? `${ms / 60_000}m` : `${ms / 1000}s`;

export function kafkaNames(queue: string): KafkaNames {
  return {
    tasksTopic: `spillway.${queue}.tasks`,
    workerGroup: `spillway.${queue}.workers`,
    delayTiers: DELAY_TIER_MS.map((delayMs) => ({
      topic: `spillway.${queue}.delay-${tierLabel(delayMs)}`,
      delayMs,
    })),
    schedulerGroup: `spillway.${queue}.scheduler`,
    deadLetterTopic: `spillway.${queue}.dead-letters`,
  };
}

/** Every topic a queue uses, for creating them. */
export function allTopics(names: KafkaNames): string[] {
  return [names.tasksTopic, ...names.delayTiers.map((tier) => tier.topic), names.deadLetterTopic];
}
