import type { KafkaMessage } from 'kafkajs';
import type { AttemptFailure, TaskError, TaskMessage } from './task';

export type { AttemptFailure };

/**
 * Why a task was given up on: its attempts ran out, its handler threw a NonRetriableError, no
 * handler exists for its type, or the message was not a task at all (poison).
 */
export type DeadLetterReason = 'attempts-exhausted' | 'non-retriable' | 'unknown-type' | 'poison';

/**
 * A task given up on. The worker publishes it to the dead-letter topic (the durable record) and
 * indexes it in Redis (what `GET /v1/dead-letters` lists and `replay` re-submits).
 */
export interface DeadLetter {
  /** The task id; for poison, `poison:<topic>:<partition>:<offset>`. */
  id: string;
  reason: DeadLetterReason;
  /** Epoch ms. */
  deadAt: number;
  /** The task as it was submitted; absent for poison. */
  task?: TaskMessage;
  /** For poison: the message value as UTF-8, cut to 64 KiB. */
  raw?: string;
  /** The last error. */
  error: TaskError;
  /** Every failed attempt, oldest first. */
  history: AttemptFailure[];
  /** Set by a replay: the id of the task that re-ran it. */
  replayedAs?: string;
}

/** The dead letter of a message on a tasks topic that is not a task (its value cut to 64 KiB). */
export function poisonEntry(topic: string, partition: number, message: KafkaMessage, err: Error): DeadLetter {
  return {
    id: `poison:${topic}:${partition}:${message.offset}`,
    reason: 'poison',
    deadAt: Date.now(),
    raw: message.value ? message.value.subarray(0, 64 * 1024).toString('utf8') : '',
    error: { name: err.name, message: err.message },
    history: [],
  };
}
