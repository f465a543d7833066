import type { Batch, Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import type { KafkaNames } from '../shared/kafka/names';
import { onceInOrder } from '../shared/lifecycle';
import type { Logger } from '../shared/logger';
import type { TaskStore } from '../shared/redis/task-store';
import { errorMessage } from '../shared/errors';
import type { SchedulerEvents } from './events';
import { byTopic, judge, queuedTransitions, route, type Route } from './scheduler-batch';

export interface SchedulerDeps {
  /**
   * Its own consumer, in the queue's scheduler group. A resumed partition is fetched at the
   * next fetch, so its maxWaitTimeInMs bounds how late a due task is released.
   */
  consumer: Consumer;
  /** Idempotent, one request in flight: a retried send cannot duplicate or reorder tasks. */
  producer: Producer;
  names: Pick<KafkaNames, 'lanes' | 'delayTiers'>;
  store: Pick<TaskStore, 'transitionMany'>;
  events: SchedulerEvents;
  logger: Logger;
  /** Called when kafkajs gives up on the consumer (a crash it does not restart): no delayed task is released. */
  onConsumerLost(error: Error): void;
  /** Most messages in one sendBatch request (default 500). */
  maxSendBatch?: number;
  /**
   * Most key and value bytes in one sendBatch request (default 512 KiB): Kafka rejects a record
   * batch over message.max.bytes (1 MiB by default), and a run for one key is one record batch.
   */
  maxSendBytes?: number;
}

export interface Scheduler {
  /** Connects, joins the scheduler group and starts consuming the delay tiers. */
  start(): Promise<void>;
  /** Cancels pending resumes, leaves the group, disconnects. Safe to call twice. */
  stop(): Promise<void>;
  /** True while the scheduler is a member of its consumer group. */
  isReady(): boolean;
}

/** A message of the current run: skipped (poison) or on its way to `route.topic`. */
interface Step {
  message: KafkaMessage;
  route?: Route;
  poison?: string;
}

/**
 * Moves delayed tasks out of the delay tiers when due: to the tasks topic, or to a shorter tier.
 * A partition whose head is not due yet is paused until it is, so no message is held in memory
 * and nothing is committed past a message that was not re-published. Builds without connecting.
 */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { consumer, producer, names, events, logger } = deps;
  const maxSendBatch = deps.maxSendBatch ?? 500;
  const maxSendBytes = deps.maxSendBytes ?? 512 * 1024;
  const tierDelay = new Map(names.delayTiers.map((tier) => [tier.topic, tier.delayMs]));
  const resumeTimers = new Map<string, NodeJS.Timeout>();
  let joined = false;
  /** Set first in stop(), so a batch finishing during disconnect arms no timer. */
  let stopped = false;

  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
  });
  consumer.on(consumer.events.CRASH, (event) => {
    joined = false;
    logger.error('scheduler consumer crashed', {
      error: String(event.payload.error),
      restart: event.payload.restart,
    });
    if (!event.payload.restart) deps.onConsumerLost(event.payload.error);
  });
  consumer.on(consumer.events.STOP, () => {
    joined = false;
  });

  const cancelResume = (key: string) => {
    clearTimeout(resumeTimers.get(key));
    resumeTimers.delete(key);
  };
  const cancelAllResumes = () => [...resumeTimers.keys()].forEach(cancelResume);

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    const key = `${topic}|${partition}`;
    // A batch for a partition we paused means kafkajs restarted the consumer and forgot the
    // pause: this batch is the truth now, and pausing again below re-arms the timer.
    cancelResume(key);
    const now = Date.now();
    const delayMs = tierDelay.get(topic) ?? 0;
    let run: Step[] = [];
    let runBytes = 0;
    for (const message of messages) {
      if (!payload.isRunning() || payload.isStale()) break;
      const verdict = judge(message, now, delayMs);
      if (verdict.kind === 'waiting') {
        await flush(run, payload);
        pauseUntil(payload, message.offset, verdict.until);
        return;
      }
      const bytes = (message.key?.length ?? 0) + (message.value?.length ?? 0);
      if (run.length >= maxSendBatch || (run.length > 0 && runBytes + bytes > maxSendBytes)) {
        await flush(run, payload);
        run = [];
        runBytes = 0;
      }
      run.push(
        verdict.kind === 'poison'
          ? { message, poison: verdict.reason }
          : { message, route: route(verdict.task, message, now, names) },
      );
      runBytes += bytes;
    }
    await flush(run, payload);
  }

  /** Fetches `offset` again once it is due, and nothing behind it before. */
  function pauseUntil(payload: EachBatchPayload, offset: string, until: number): void {
    const { topic, partition } = payload.batch;
    const key = `${topic}|${partition}`;
    const resume = payload.pause();
    // Seeking back makes the resumed partition fetch this message again; kafkajs commits the
    // seek offset, which says exactly "everything before this message is done".
    consumer.seek({ topic, partition, offset });
    if (stopped) return;
    const timer = setTimeout(() => {
      resumeTimers.delete(key);
      resume();
    }, until - Date.now());
    resumeTimers.set(key, timer);
    logger.debug('delay tier partition paused', { topic, partition, offset, until: new Date(until) });
  }

  /** Publishes the run, then commits past it; a failed send throws, so nothing is committed. */
  async function flush(run: Step[], payload: EachBatchPayload): Promise<void> {
    const last = run.at(-1);
    if (!last) return;
    const routes = run.flatMap((step) => (step.route ? [step.route] : []));
    if (routes.length > 0) await producer.sendBatch({ topicMessages: byTopic(routes), acks: -1 });
    payload.resolveOffset(last.message.offset);
    // Before the heartbeat, which throws when the group rebalances: what was sent is reported.
    await report(run, routes, payload.batch);
    await payload.heartbeat();
    await payload.commitOffsetsIfNecessary();
  }

  /** Counts and logs a flushed run and records its released tasks as queued; never throws. */
  async function report(run: Step[], routes: Route[], { topic, partition }: Batch): Promise<void> {
    for (const { message, poison } of run) {
      if (poison === undefined) continue;
      logger.error('poison message skipped', { topic, partition, offset: message.offset, reason: poison });
      events.schedulerPoisonMessage();
    }
    const released = routes.filter((r) => r.released).map((r) => r.task);
    if (routes.length > released.length) events.tasksRedelayed(routes.length - released.length);
    if (released.length === 0) return;
    events.tasksReleased(released.length);
    try {
      await deps.store.transitionMany(queuedTransitions(released, new Date()));
    } catch (err) {
      // The tasks are on the tasks topic and a worker records them when it starts them; failing
      // the batch here would only publish them twice.
      logger.warn('could not record released tasks as queued', {
        count: released.length,
        error: errorMessage(err),
      });
    }
  }

  return {
    async start() {
      await producer.connect();
      await consumer.connect();
      // fromBeginning: a new scheduler group must still release what was delayed before it.
      await consumer.subscribe({ topics: names.delayTiers.map((tier) => tier.topic), fromBeginning: true });
      // autoCommitThreshold 1: every flush commits, so a crash re-publishes at most one flush.
      await consumer.run({ eachBatch, eachBatchAutoResolve: false, autoCommitThreshold: 1 });
    },
    stop: onceInOrder([
      async () => {
        stopped = true;
        cancelAllResumes();
      },
      () => consumer.disconnect(),
      () => producer.disconnect(),
    ]),
    isReady: () => joined,
  };
}
