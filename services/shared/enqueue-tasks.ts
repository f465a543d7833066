import type { OutgoingMessage } from './kafka/batching-publisher';
import { planDelay, RELEASE_AT_HEADER } from './kafka/delay-tiers';
import { laneTopic, type KafkaNames } from './kafka/names';
import { laneOf } from './lanes/priority';
import { identityOf, type TaskStore, type TransitionOutcome } from './redis/task-store';
import type { TaskMessage } from './task';
import { encodeTaskMessage, partitionKeyOf } from './task-message';

export interface EnqueueDeps {
  names: Pick<KafkaNames, 'lanes' | 'delayTiers'>;
  store: Pick<TaskStore, 'transitionMany'>;
  /** Resolves once Kafka holds every message. */
  publish(messages: OutgoingMessage[]): Promise<void>;
}

/** Messages handed to the publisher at once. */
const PUBLISH_SLICE = 1000;

/** Where a task message goes: its lane's topic when due, its delay tier when it waits. */
export function outgoingOf(
  message: TaskMessage,
  names: EnqueueDeps['names'],
  now = Date.now(),
): OutgoingMessage {
  const delay = message.runAt === undefined ? undefined : planDelay(message.runAt, now, names.delayTiers);
  return {
    topic: delay?.topic ?? laneTopic(names, laneOf(message)),
    value: encodeTaskMessage(message),
    key: partitionKeyOf(message),
    ...(delay && { headers: { [RELEASE_AT_HEADER]: String(delay.releaseAt) } }),
  };
}

/**
 * Tasks the queue itself submits (a batch's onComplete task, a handler's children, a schedule's
 * ticks), with ids derived from what caused them (seededTaskId): Kafka first, then the queued
 * records. Publishing the same ids again is harmless: a worker runs each id once, and a record
 * that moved on is not moved back to queued. Not rate-limited, spilled or counted against a
 * tenant's limits: what caused them was, when it was submitted.
 */
export async function enqueueTasks(deps: EnqueueDeps, messages: TaskMessage[]): Promise<TransitionOutcome[]> {
  if (messages.length === 0) return [];
  const now = Date.now();
  const outgoing = messages.map((m) => outgoingOf(m, deps.names, now));
  // In slices: a publisher holds a bounded number of messages waiting for Kafka (a worker's
  // 10,000), and a spawn of more must not be refused for its size alone.
  for (let i = 0; i < outgoing.length; i += PUBLISH_SLICE)
    await deps.publish(outgoing.slice(i, i + PUBLISH_SLICE));
  return deps.store.transitionMany(
    messages.map((message, i) => {
      const scheduled = outgoing[i]!.headers !== undefined;
      return {
        ...identityOf(message),
        status: scheduled ? ('scheduled' as const) : ('queued' as const),
        attempt: 0,
        at: new Date(now),
        ...(scheduled && { runAt: new Date(message.runAt!) }),
      };
    }),
  );
}
