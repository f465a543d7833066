import { DEFAULT_PRIORITY, LANES, type LaneName } from '../lanes/priority';

/**
 * The only place Kafka topic and consumer group names are built. The chart derives the same
 * names from the same queue value (charts/spillway), so KEDA watches the group workers join.
 */
export interface DelayTier {
  topic: string;
  /** How long a message waits in this tier's topic before the scheduler looks at it again. */
  delayMs: number;
}

/** One lane's topic and the consumer group that drains it. */
export interface Lane {
  name: LaneName;
  topic: string;
  group: string;
}

export interface KafkaNames {
  /** The normal lane's topic: the one every task used before priorities. */
  tasksTopic: string;
  /** The normal lane's group. */
  workerGroup: string;
  /** Every lane, highest priority first, overflow last (services/shared/lanes/priority.ts). */
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
function laneNames(queue: string, name: LaneName): Lane {
  const suffix = name === DEFAULT_PRIORITY ? '' : `.${name}`;
  return { name, topic: `spillway.${queue}.tasks${suffix}`, group: `spillway.${queue}.workers${suffix}` };
}

export function kafkaNames(queue: string): KafkaNames {
  return {
    tasksTopic: `spillway.${queue}.tasks`,
    workerGroup: `spillway.${queue}.workers`,
    lanes: LANES.map((name) => laneNames(queue, name)),
    delayTiers: DELAY_TIER_MS.map((delayMs) => ({
      topic: `spillway.${queue}.delay-${tierLabel(delayMs)}`,
      delayMs,
    })),
    schedulerGroup: `spillway.${queue}.scheduler`,
    deadLetterTopic: `spillway.${queue}.dead-letters`,
  };
}

/** The topic of a lane: where a due task of that lane goes. */
export function laneTopic(names: Pick<KafkaNames, 'lanes'>, lane: LaneName): string {
  return names.lanes.find((l) => l.name === lane)!.topic;
}

/** Every topic a queue uses, for creating them. */
export function allTopics(names: KafkaNames): string[] {
  return [
    ...names.lanes.map((lane) => lane.topic),
    ...names.delayTiers.map((tier) => tier.topic),
    names.deadLetterTopic,
  ];
}
