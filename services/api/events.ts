import type { PublisherEvents } from '../shared/kafka/batching-publisher';

/** What the API reports as it works; metrics.ts turns these into Prometheus series. */
export type EnqueueOutcome = 'accepted' | 'invalid' | 'unavailable';

/** What became of one dead letter a replay or discard was asked for (one by one or in bulk). */
export type DeadLetterActionOutcome =
  'replayed' | 'already_replayed' | 'not_replayable' | 'in_progress' | 'failed' | 'discarded';

export interface ApiEvents extends PublisherEvents {
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  tasksEnqueued(type: string, outcome: EnqueueOutcome, count: number, tenant: string): void;
  /** Time from a validated submission to Kafka's acknowledgement and the records written. */
  enqueueLatency(seconds: number): void;
  /** A submission refused with 429 by the rate limit. */
  rateLimited(tenant: string): void;
  /** The rate limit could not be checked (Redis did not answer) and a submission went through. */
  rateLimiterFailedOpen(): void;
  /** A submission refused with 429 because its tenant had its maximum queued. */
  tenantQueueFull(tenant: string): void;
  /** The tenant backlog could not be checked (Redis did not answer) and a submission went through. */
  backlogCheckFailedOpen(): void;
  /** Tasks of a tenant over its spill allowance sent to the overflow lane. */
  tasksSpilled(tenant: string, count: number): void;
  /** Lanes could not be chosen (Redis did not answer): a submission's tasks went to their priority's lanes. */
  laneChoiceFailedOpen(): void;
  /** Dead letters a replay or discard acted on (a dry run acts on none), by what became of them. */
  deadLettersActedOn(action: 'replay' | 'discard', outcome: DeadLetterActionOutcome, count: number): void;
}
