import { randomUUID } from 'node:crypto';
import {
  InDoubtError,
  messageBytes,
  type OutgoingMessage,
  type Publisher,
} from '../shared/kafka/batching-publisher';
import { ApiError, UnavailableError } from '../shared/errors';
import { planDelay, RELEASE_AT_HEADER } from '../shared/kafka/delay-tiers';
import { laneTopic, type KafkaNames } from '../shared/kafka/names';
import type { Logger } from '../shared/logger';
import { identityOf, type TaskStore, type Transition } from '../shared/redis/task-store';
import { laneOf, priorityOf } from '../shared/lanes/priority';
import type { RateLimit } from '../shared/tenancy/tenant';
import type { LaneChoice } from './lane-choice';
import { MAX_KEPT_PAYLOAD_BYTES, type TaskMessage, type TaskSpec } from '../shared/task';
import { DEFAULT_TENANT, tenantOf } from '../shared/tenancy/tenant';
import { encodeTaskMessage, partitionKeyOf } from '../shared/task-message';
import { seededTaskId } from '../shared/task-ids';
import type { ApiEvents } from './events';
import type { Submission } from './validation';

export interface Accepted {
  id: string;
  type: string;
  status: 'queued' | 'scheduled';
  createdAt: string;
  runAt?: string;
}

/**
 * A 503 whose tasks may still land in Kafka (see InDoubtError). `outcome` settles with the
 * accepted tasks if they did land (their records are then written), or undefined if not.
 */
export class SubmissionInDoubt extends UnavailableError {
  constructor(
    message: string,
    readonly outcome: Promise<Accepted[] | undefined>,
  ) {
    super(message);
    this.name = 'SubmissionInDoubt';
  }
}

export interface SubmitOptions {
  /** Whose tasks these are (the caller's tenant). */
  tenant: string;
  /** The tenant's own spill allowance, if it has one (else LaneChoice's default). */
  spill?: RateLimit | undefined;
  /** An Idempotency-Key's seed: see submit. */
  idSeed?: string | undefined;
  /**
   * One seed per submission, instead of idSeed (dead-letter replays, `replay:<id>` each): each
   * gives the id it gives alone, so a replay has one id however it was grouped.
   */
  idSeeds?: readonly string[];
  /** Names a submission's fields in errors: '' for a single task, `tasks[3].` in a batch. */
  fieldPrefix?: (index: number) => string;
  /** The batch these tasks are children of: counted in before Kafka gets them, out if it never does. */
  batch?: BatchAdmission;
  /**
   * What these re-run: a task (POST /v1/tasks/:id/replay) or, one per submission, dead letters;
   * their records name it.
   */
  replayOf?: string | readonly string[];
}

/** How a batch takes children in (services/api/batches): before publishing, so none finishes uncounted. */
export interface BatchAdmission {
  id: string;
  admit(taskIds: string[]): Promise<void>;
  withdraw(taskIds: string[]): Promise<void>;
}

interface Planned {
  message: TaskMessage;
  outgoing: OutgoingMessage;
  status: 'queued' | 'scheduled';
}

export interface SubmitterDeps {
  publisher: Publisher;
  store: TaskStore;
  names: KafkaNames;
  events: ApiEvents;
  logger: Logger;
  /** Picks each task's lane (spill, keys kept in their lanes); absent: every task in its priority's lane. */
  lanes?: LaneChoice;
  /**
   * Largest task message the queue takes (undefined: no check): the topics' max.message.bytes less
   * what a retry adds (RETRY_HEADROOM_BYTES), so the task's retries and dead letter fit too.
   */
  maxTaskBytes?: number;
}

/**
 * What a task's message may grow by between its submission and its dead letter: the error
 * history a retry carries (bounded: see boundedHistory) and the dead letter's envelope.
 */
export const RETRY_HEADROOM_BYTES = 64 * 1024;

/**
 * Turns validated submissions into task messages: due ones onto the tasks topic, delayed ones
 * onto their delay tier. All of one call go to Kafka together; the call resolves once Kafka
 * acknowledged every one (or rejects, and then none has an id a client saw).
 */
export class TaskSubmitter {
  constructor(private readonly deps: SubmitterDeps) {}

  /**
   * `options.idSeed` fixes the ids (an Idempotency-Key's seed): submitting the same submissions with the
   * same seed again publishes the same tasks, which the workers run once.
   */
  async submit(submissions: Submission[], options: SubmitOptions): Promise<Accepted[]> {
    const { idSeed, fieldPrefix = () => '' } = options;
    const { publisher, names, events } = this.deps;
    const started = performance.now();
    const now = Date.now();
    // The default tenant's messages carry no tenant: as they were before tenants.
    const owner = options.tenant === DEFAULT_TENANT ? {} : { tenant: options.tenant };
    const batch = options.batch;
    const messages = submissions.map((submission, index): TaskMessage => {
      const seed = options.idSeeds?.[index];
      const id =
        seed !== undefined
          ? seededTaskId(seed, 0)
          : idSeed === undefined
            ? randomUUID()
            : seededTaskId(idSeed, index);
      return { id, enqueuedAt: now, ...owner, ...submission, ...(batch && { batch: batch.id }) };
    });
    const lanes = this.deps.lanes
      ? await this.deps.lanes.lanes(options.tenant, options.spill, messages)
      : messages.map((m) => laneOf(m));
    const planned = messages.map((message, index): Planned => {
      // Carried only when it is not the priority's own: retries and delays come back to it.
      if (lanes[index] !== priorityOf(message)) message.lane = lanes[index];
      const delay = message.runAt === undefined ? undefined : planDelay(message.runAt, now, names.delayTiers);
      const outgoing: OutgoingMessage = {
        topic: delay?.topic ?? laneTopic(names, lanes[index]!),
        value: encodeTaskMessage(message),
        key: partitionKeyOf(message),
        ...(delay && { headers: { [RELEASE_AT_HEADER]: String(delay.releaseAt) } }),
      };
      return { message, outgoing, status: delay ? 'scheduled' : 'queued' };
    });
    try {
      this.refuseTooLarge(planned, fieldPrefix);
      await batch?.admit(messages.map((m) => m.id));
    } catch (err) {
      // Refused before Kafka: these tasks hold their keys' lanes for nothing.
      await this.deps.lanes?.forget(messages);
      throw err;
    }
    try {
      await publisher.publish(planned.map((p) => p.outgoing));
    } catch (err) {
      for (const { message } of planned)
        events.tasksEnqueued(message.type, 'unavailable', 1, tenantOf(message));
      if (err instanceof InDoubtError) {
        const outcome = err.landed.then(async (landed) => {
          if (landed) return this.record(planned, now, options.replayOf);
          await this.unsent(messages, batch);
          return undefined;
        });
        throw new SubmissionInDoubt(err.message, outcome);
      }
      await this.unsent(messages, batch);
      throw err;
    }
    const accepted = await this.record(planned, now, options.replayOf);
    for (const { message } of planned) events.tasksEnqueued(message.type, 'accepted', 1, tenantOf(message));
    events.enqueueLatency((performance.now() - started) / 1000);
    return accepted;
  }

  /** Tasks Kafka never got: they hold their keys' lanes, and count in their batch, for nothing. */
  private async unsent(messages: TaskMessage[], batch: BatchAdmission | undefined): Promise<void> {
    await this.deps.lanes?.forget(messages);
    await batch?.withdraw(messages.map((m) => m.id)).catch((err: unknown) =>
      // Redis failed too: the batch keeps counting them and will not complete; say so loudly.
      this.deps.logger.error('unsent children not taken out of their batch', {
        batch: batch.id,
        tasks: messages.length,
        error: String(err),
      }),
    );
  }

  /** 413 naming the first task whose message Kafka would refuse, now or when it is retried. */
  private refuseTooLarge(planned: Planned[], fieldPrefix: (index: number) => string): void {
    const max = this.deps.maxTaskBytes;
    if (max === undefined) return;
    const index = planned.findIndex(({ outgoing }) => messageBytes(outgoing) > max);
    if (index < 0) return;
    for (const { message } of planned)
      this.deps.events.tasksEnqueued(message.type, 'invalid', 1, tenantOf(message));
    const bytes = planned[index]!.outgoing.value.length;
    throw new ApiError(
      413,
      'payload_too_large',
      `the task is ${bytes} bytes as a Kafka message; this queue takes at most ${max}`,
      [
        {
          field: `${fieldPrefix(index)}payload`,
          message: `at most ${max} bytes with the task's other fields`,
        },
      ],
    );
  }

  /** Writes the records of tasks Kafka holds, and describes them as the API answers. */
  private async record(
    planned: Planned[],
    now: number,
    replayOf?: string | readonly string[],
  ): Promise<Accepted[]> {
    const { store, logger } = this.deps;
    // Kafka holds the tasks now, so they will run whatever happens next. If these writes fail,
    // a worker's first status write creates the record; until then GET answers 404.
    const createdAt = new Date(now);
    const replayed = (index: number) => (typeof replayOf === 'string' ? replayOf : replayOf?.[index]);
    const records = planned.map(({ message, outgoing, status }, index): Transition => ({
      ...identityOf(message),
      status,
      attempt: 0,
      at: createdAt,
      ...(status === 'scheduled' && { runAt: new Date(message.runAt!) }),
      spec: specOf(message, outgoing.value.length),
      ...(replayed(index) !== undefined && { replayOf: replayed(index) }),
    }));
    await store
      .transitionMany(records)
      .catch((err: unknown) =>
        logger.warn('queued records not written', { tasks: records.length, error: String(err) }),
      );
    return planned.map(({ message, status }) => ({
      id: message.id,
      type: message.type,
      status,
      createdAt: createdAt.toISOString(),
      ...(status === 'scheduled' && { runAt: new Date(message.runAt!).toISOString() }),
    }));
  }
}

/**
 * What a record keeps of its submission; a payload past MAX_KEPT_PAYLOAD_BYTES only by its size.
 * The encoded message holds the payload, so one within the bound needs no second serialisation.
 */
function specOf(message: TaskMessage, messageBytes: number): TaskSpec {
  const payloadBytes =
    messageBytes <= MAX_KEPT_PAYLOAD_BYTES ? 0 : Buffer.byteLength(JSON.stringify(message.payload ?? null));
  return {
    ...(payloadBytes <= MAX_KEPT_PAYLOAD_BYTES ? { payload: message.payload ?? null } : { payloadBytes }),
    maxAttempts: message.maxAttempts,
    ...(message.timeoutMs !== undefined && { timeoutMs: message.timeoutMs }),
    ...(message.callbackUrl !== undefined && { callbackUrl: message.callbackUrl }),
  };
}
