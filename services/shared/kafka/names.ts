import { DEFAULT_PRIORITY, PRIORITIES, type TaskPriority } from '../lanes/priority';

/**
 * The only place Kafka topic and consumer group names are built. The chart derives the same
 * names from the same queue value (charts/spillway), so KEDA watches the group workers join.
 */
export interface DelayTier {
  topic: string;
  /** How long a message waits in this tier's topic before the scheduler looks at it again. */
  delayMs: number;
}

/** One priority's topic and the consumer group that drains it. */
export interface Lane {
  priority: TaskPriority;
  topic: string;
  group: string;
}

export interface KafkaNames {
  /** The normal lane's topic: the one every task used before priorities. */
  tasksTopic: string;
  /** The normal lane's group. */
  workerGroup: string;
  /** Every priority's lane, highest first (services/shared/lanes/priority.ts). */
  lanes: readonly Lane[];
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

/** The normal lane keeps the names it had before priorities, so an upgrade drains what was queued. */
function laneNames(queue: string, priority: TaskPriority): Lane {
  const suffix = priority === DEFAULT_PRIORITY ? '' : `.${priority}`;
  return { priority, topic: `spillway.${queue}.tasks${suffix}`, group: `spillway.${queue}.workers${suffix}` };
}

export function kafkaNames(queue: string): KafkaNames {
  return {
    tasksTopic: `spillway.${queue}.tasks`,
    workerGroup: `spillway.${queue}.workers`,
    lanes: PRIORITIES.map((priority) => laneNames(queue, priority)),
    delayTiers: DELAY_TIER_MS.map((delayMs) => ({
      topic: `spillway.${queue}.delay-${tierLabel(delayMs)}`,
      delayMs,
    })),
    schedulerGroup: `spillway.${queue}.scheduler`,
    deadLetterTopic: `spillway.${queue}.dead-letters`,
  };
}

/** The topic a due task of this priority goes to. */
export function laneTopic(names: Pick<KafkaNames, 'lanes'>, priority: TaskPriority | undefined): string {
  const wanted = priority ?? DEFAULT_PRIORITY;
  return names.lanes.find((lane) => lane.priority === wanted)!.topic;
}

/** Every topic a queue uses, for creating them. */
export function allTopics(names: KafkaNames): string[] {
  return [
    ...names.lanes.map((lane) => lane.topic),
    ...names.delayTiers.map((tier) => tier.topic),
    names.deadLetterTopic,
  ];
}
