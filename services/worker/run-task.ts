import type { DeadLetter, DeadLetterReason } from '../shared/dead-letter';
import type { OutgoingMessage } from '../shared/kafka/batching-publisher';
import { planDelay, RELEASE_AT_HEADER } from '../shared/kafka/delay-tiers';
import type { KafkaNames } from '../shared/kafka/names';
import { KafkaRefusedError } from '../shared/kafka/refusals';
import type { Logger } from '../shared/logger';
import { TaskCancelledError } from '../shared/redis/cancel-listener';
import {
  identityOf,
  type Claim,
  type TaskStore,
  type Transition,
  type TransitionOutcome,
} from '../shared/redis/task-store';
import {
  TERMINAL_STATUSES,
  type AttemptFailure,
  type JsonValue,
  type TaskError,
  type TaskMessage,
} from '../shared/task';
import { encodeTaskMessage, partitionKeyOf } from '../shared/task-message';
import { tenantOf } from '../shared/tenancy/tenant';
import type { WorkerEvents } from './events';
import type { HandlerRegistry } from './handlers';
import { runHandler, ShutdownInterruption, type HandlerOutcome, type HandlerRunDeps } from './handler-run';
import { boundedHistory, isRetriable, retryDelayMs, toTaskError, type RetryPolicy } from './retry-policy';
import type { Persist } from './persist';
import { ChildSpawner, type SpawnDeps } from './batches/spawn';

export interface TaskRunnerDeps {
  store: TaskStore;
  handlers: HandlerRegistry;
  events: WorkerEvents;
  logger: Logger;
  names: Pick<KafkaNames, 'delayTiers' | 'deadLetterTopic'>;
  /** Puts retries on the delay tiers and dead letters on their topic; resolves once Kafka holds them. */
  publish(messages: OutgoingMessage[]): Promise<void>;
  /** Indexes a dead letter for the API. */
  recordDeadLetter(entry: DeadLetter): Promise<void>;
  cancellations: HandlerRunDeps['cancellations'];
  /** Puts the task's completion callback in the outbox (CallbackDispatcher delivers it). */
  queueCallback(id: string, url: string): Promise<void>;
  retryPolicy: RetryPolicy;
  /** Largest result stored, as JSON bytes (MAX_RESULT_BYTES); a bigger one fails the task. */
  maxResultBytes: number;
  /** Retries a write until Redis or Kafka answers; see persist.ts. */
  persist: Persist;
  /** Aborted when shutdown runs out of drain time. */
  shutdown: AbortSignal;
  /**
   * This worker's claim on the attempts it runs (TASK_CLAIM_MS): extended every third of its
   * length while the attempt runs, given up when shutdown interrupts it.
   */
  claim: Claim;
  /** Attempt timeouts: for tasks without `timeoutMs`, and the most any attempt may run. */
  timeouts: { defaultMs: number; maxMs: number };
  /** Where ctx.spawn puts children: their batch, and Kafka. */
  spawning: SpawnDeps;
}

/** What every transition of one attempt carries. */
type AttemptBase = Pick<Transition, 'id' | 'type' | 'createdAt' | 'tenant' | 'attempt'>;

/** How often a delivery held by another worker's claim looks again. */
const HELD_ELSEWHERE_POLL_MS = 500;

/**
 * A handler's result over MAX_RESULT_BYTES. Not retriable: the same handler on the same payload
 * will most likely produce the same result, and Redis (and every reader of the record) would
 * carry it.
 */
export class ResultTooLargeError extends Error {
  readonly retriable = false;

  constructor(bytes: number, max: number) {
    super(`result_too_large: the result is ${bytes} bytes as JSON, over MAX_RESULT_BYTES (${max})`);
    this.name = 'ResultTooLargeError';
  }
}

/**
 * One delivery of one task, from `running` to its outcome: succeeded; retried later on a delay
 * tier; given up on (dead letter, failed); cancelled; or interrupted by shutdown (then it throws
 * ShutdownInterruption and the delivery is not committed, so the task comes back).
 */
export class TaskRunner {
  constructor(private readonly deps: TaskRunnerDeps) {}

  /** `handlerDone` is called once no handler runs for the task any more (see WorkerDeps.run). */
  async run(task: TaskMessage, handlerDone: () => void = () => undefined): Promise<void> {
    const { store, events } = this.deps;
    const attempt = task.attempt ?? 1;
    const logger = this.deps.logger.child({ taskId: task.id, type: task.type, attempt });
    const base: AttemptBase = { ...identityOf(task), attempt };

    const { outcome: start, startedAt } = await this.start(task, base, logger);
    if (!start.applied) {
      // Finished already (a redelivery after a crash or rebalance), cancelled before it started,
      // or a stale delivery of an earlier attempt: nothing to run.
      if (start.current && TERMINAL_STATUSES.has(start.current)) {
        events.duplicateSkipped(task.type);
        if (task.callbackUrl) await this.notifyOnce(task.id, task.callbackUrl);
      }
      // Its handler finished and it waits for children: the worker that wrote that may have died
      // before sealing them (sealing twice changes nothing).
      if (start.current === 'waiting-children')
        await this.deps.persist(() => new ChildSpawner(task, this.deps.spawning).sealSpawned());
      logger.debug('delivery skipped', { status: start.current });
      return;
    }

    const extending = setInterval(
      () => void store.claim(task.id, attempt, this.deps.claim).catch(() => undefined),
      this.deps.claim.ms / 3,
    );
    try {
      await this.runClaimed(task, base, startedAt, logger, handlerDone);
    } catch (err) {
      // Interrupted by shutdown: the next owner of the partition runs it, at once.
      if (err instanceof ShutdownInterruption) {
        await store.claim(task.id, attempt, { ...this.deps.claim, ms: 0 }).catch(() => undefined);
      }
      throw err;
    } finally {
      clearInterval(extending);
    }
  }

  /**
   * Moves the task to `running` under this worker's claim. While another worker's live claim
   * holds the attempt, that worker is still running it (this one got its partition in a
   * rebalance, or a copy of its message): wait until it finishes or its claim lapses (it died)
   * rather than run the task twice.
   */
  private async start(
    task: TaskMessage,
    base: AttemptBase,
    logger: Logger,
  ): Promise<{ outcome: TransitionOutcome; startedAt: number }> {
    const { store, persist, shutdown, claim } = this.deps;
    for (let waits = 0; ; waits++) {
      const startedAt = Date.now();
      const outcome = await persist(() =>
        store.transition({ ...base, status: 'running', at: new Date(startedAt), claim }),
      );
      if (outcome.applied || !outcome.heldElsewhere) return { outcome, startedAt };
      if (waits === 0) {
        this.deps.events.heldElsewhere(task.type);
        logger.info('another worker is running this attempt; waiting for it');
      }
      await new Promise((resolve) => setTimeout(resolve, HELD_ELSEWHERE_POLL_MS));
      if (shutdown.aborted) throw new ShutdownInterruption(task.id);
    }
  }

  /** The attempt, once claimed: its handler and the outcome's writes. */
  private async runClaimed(
    task: TaskMessage,
    base: AttemptBase,
    startedAt: number,
    logger: Logger,
    handlerDone: () => void,
  ): Promise<void> {
    const { store, handlers, events, persist } = this.deps;
    const attempt = base.attempt;
    const history = task.history ?? [];
    const handler = handlers.get(task.type);
    if (!handler) {
      handlerDone();
      const error = { name: 'UnknownTaskType', message: `no handler for task type "${task.type}"` };
      await this.giveUp(
        task,
        'unknown-type',
        boundedHistory([...history, { attempt, startedAt, finishedAt: Date.now(), error }]),
      );
      return;
    }

    events.taskStarted(task.type, tenantOf(task), (startedAt - (task.runAt ?? task.enqueuedAt)) / 1000);
    // Every attempt has a timeout: the task's own, else the default, and never above the most.
    const { defaultMs, maxMs } = this.deps.timeouts;
    const timeoutMs = Math.min(task.timeoutMs ?? defaultMs, maxMs);
    const children = new ChildSpawner(task, this.deps.spawning);
    const ran = await runHandler(handler, { ...task, timeoutMs }, attempt, {
      logger,
      shutdown: this.deps.shutdown,
      cancellations: this.deps.cancellations,
      progress: (value) => store.progress(task.id, value).catch(() => undefined),
      onAbandoned: () => events.handlerAbandoned(task.type),
      spawn: (tasks, options) => children.spawn(tasks, options),
    });
    handlerDone();
    const outcome = ran.kind === 'succeeded' ? this.checkResult(ran.result) : ran;
    const seconds = (Date.now() - startedAt) / 1000;

    if (outcome.kind === 'succeeded') {
      // Waiting for its children: recorded before they are sealed, so the completion that may
      // follow at once finds the parent waiting (services/worker/batches/completions.ts).
      const status = children.waitsForChildren ? 'waiting-children' : 'succeeded';
      await persist(() =>
        store.transition({
          ...base,
          status,
          at: new Date(),
          result: outcome.result,
          ...(children.spawned && { children: children.batchId }),
        }),
      );
      await persist(() => children.seal(attempt));
      events.taskFinished(task.type, tenantOf(task), 'succeeded', seconds);
      if (status === 'waiting-children') return; // its callback goes out when it finishes
    } else if (outcome.error instanceof ShutdownInterruption) {
      events.taskFinished(task.type, tenantOf(task), 'interrupted', seconds);
      throw outcome.error;
    } else if (outcome.error instanceof TaskCancelledError) {
      // The API marked it cancelled already; there is nothing to write but the callback.
      events.taskFinished(task.type, tenantOf(task), 'cancelled', seconds);
      logger.info('task cancelled while running');
    } else {
      const error: TaskError = toTaskError(outcome.error);
      const failures = boundedHistory([...history, { attempt, startedAt, finishedAt: Date.now(), error }]);
      events.taskFinished(task.type, tenantOf(task), 'failed', seconds);
      if (isRetriable(outcome.error) && attempt < task.maxAttempts) {
        await this.retryLater(task, failures);
        return; // not finished: the callback waits for the final outcome
      }
      await this.giveUp(task, isRetriable(outcome.error) ? 'attempts-exhausted' : 'non-retriable', failures);
      // Children spawned on the way still run, as a batch that completes without its parent.
      await persist(() => children.seal(attempt));
    }
    // Queued, not sent: the slot and the offset are released now, whatever the receiver does.
    if (task.callbackUrl) await this.queueCallback(task.id, task.callbackUrl);
  }

  /** Publishes the next attempt to a delay tier first, then records `retrying`: see the README's guarantees. */
  private async retryLater(task: TaskMessage, history: AttemptFailure[]): Promise<void> {
    const { store, persist, names, retryPolicy } = this.deps;
    const attempt = task.attempt ?? 1;
    const now = Date.now();
    const next: TaskMessage = {
      ...task,
      attempt: attempt + 1,
      history,
      runAt: now + retryDelayMs(attempt, retryPolicy),
    };
    const plan = planDelay(next.runAt!, now, names.delayTiers)!;
    try {
      await persist(() =>
        this.deps.publish([
          {
            topic: plan.topic,
            value: encodeTaskMessage(next),
            headers: { [RELEASE_AT_HEADER]: String(plan.releaseAt) },
            key: partitionKeyOf(task),
          },
        ]),
      );
    } catch (err) {
      if (!(err instanceof KafkaRefusedError)) throw err;
      // Kafka will never take this retry: the task fails for good, visibly, rather than holding
      // its partition while the send is tried forever.
      await this.giveUp(task, 'non-retriable', history, toTaskError(err));
      return;
    }
    const error = history.at(-1)!.error;
    await persist(() =>
      store.transition({
        ...identityOf(task),
        status: 'retrying',
        attempt,
        at: new Date(),
        error,
        history,
        runAt: new Date(next.runAt!),
      }),
    );
    this.deps.events.taskRetried(task.type);
    this.deps.logger.info('task will be retried', {
      taskId: task.id,
      attempt,
      error: error.message,
      runAt: next.runAt,
    });
  }

  /** Dead-letters the task: Kafka first (the durable record), then the API's index, then `failed`. */
  private async giveUp(
    task: TaskMessage,
    reason: DeadLetterReason,
    history: AttemptFailure[],
    /** Why it failed for good, when not its last attempt's error (Kafka refused its retry). */
    error: TaskError = history.at(-1)!.error,
  ): Promise<void> {
    const { store, persist, names } = this.deps;
    const entry: DeadLetter = { id: task.id, reason, deadAt: Date.now(), task, error, history };
    try {
      await persist(() =>
        this.deps.publish([
          { topic: names.deadLetterTopic, key: task.id, value: Buffer.from(JSON.stringify(entry)) },
        ]),
      );
    } catch (err) {
      if (!(err instanceof KafkaRefusedError)) throw err;
      // The Redis index below still lists it and replays it; only the topic's copy is missing.
      this.deps.logger.error('Kafka refused the dead letter; it is kept in Redis only', {
        taskId: task.id,
        error: err.message,
      });
    }
    await persist(() => this.deps.recordDeadLetter(entry));
    await persist(() =>
      store.transition({
        ...identityOf(task),
        status: 'failed',
        attempt: task.attempt ?? 1,
        at: new Date(),
        error,
        history,
      }),
    );
    this.deps.events.deadLettered(reason);
    this.deps.logger.warn('task failed for good', { taskId: task.id, reason, error: error.message });
  }

  /** Turns a result too big to store into a failure; it is serialised here and again by the store. */
  private checkResult(result: JsonValue): HandlerOutcome {
    let bytes: number;
    try {
      bytes = Buffer.byteLength(JSON.stringify(result) ?? 'null');
    } catch (err) {
      // A BigInt or a cycle: the store could not write it either.
      const error = Object.assign(new TypeError(`the result is not JSON: ${String(err)}`), {
        retriable: false,
      });
      return { kind: 'failed', error };
    }
    const max = this.deps.maxResultBytes;
    return bytes > max
      ? { kind: 'failed', error: new ResultTooLargeError(bytes, max) }
      : { kind: 'succeeded', result };
  }

  /**
   * A redelivered finished task whose callback may never have been queued (the worker died
   * first). Queued again unless delivered: the dispatcher drops an entry whose task has an outcome.
   */
  private async notifyOnce(id: string, url: string): Promise<void> {
    const record = await this.deps.persist(() => this.deps.store.get(id));
    if (record && record.callback === undefined) await this.queueCallback(id, url);
  }

  private queueCallback(id: string, url: string): Promise<void> {
    return this.deps.persist(() => this.deps.queueCallback(id, url));
  }
}
