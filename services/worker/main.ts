import type { OutgoingMessage } from '../shared/kafka/batching-publisher';
import { BatchCompletions } from './batches/completions';
import { callbackDelivery } from './callback-delivery';
import { RedisBatchStore } from '../shared/redis/batch-store';
import { RedisWorkStream } from '../shared/redis/work-stream';
import { RedisKeys } from '../shared/redis/keys';
import { once, setMaxListeners } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { probeRouter } from '../shared/http/probes';
import { createKafka, prepareTopics, waitForKafka } from '../shared/kafka/client';
import { allTopics, kafkaNames } from '../shared/kafka/names';
import { readMessageLimit } from '../shared/kafka/refusals';
import { onceInOrder, runService } from '../shared/lifecycle';
import type { Logger } from '../shared/logger';
import { RedisTaskStore } from '../shared/redis/redis-task-store';
import { withTimeout } from '../shared/timeout';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { registerDemoHandlers, registerOperationalHandlers } from './demo-handlers';
import { HandlerRegistry } from './handlers';
import { WorkerMetrics } from './metrics';
import { createScheduler } from './scheduler';
import { RedisTenantPermits } from '../shared/redis/tenant-permits';
import { TenantGate } from './tenant-gate';
import { createLaneWorkers } from './lanes';
import { BatchingPublisher } from '../shared/kafka/batching-publisher';
import { JavaCompatiblePartitioner } from '../shared/kafka/partitioner';
import { CancelListener } from '../shared/redis/cancel-listener';
import { RedisDeadLetterStore } from '../shared/redis/dead-letter-store';
import { CallbackSender } from './callbacks';
import { CallbackDispatcher } from './callback-dispatcher';
import { CallbackOutbox } from '../shared/redis/callback-outbox';
import { persistent } from './persist';
import { SCHEDULER_STOP_TIMEOUT_MS, WORKER_STOP_MARGIN_MS } from './shutdown';
import { TaskRunner } from './run-task';
import { loadHandlers } from './load-handlers';
import { RedisPauseStore } from '../shared/redis/pause-store';
import { PauseGate } from './pause-gate';
import { RedisScheduleStore } from '../shared/redis/schedule-store';
import { ScheduleFirer } from './schedules/firer';

/**
 * How long the scheduler's fetches wait for data: a delay tier partition resumed when its head
 * is due is fetched at the next fetch, so this bounds how late a due task is released.
 */
const SCHEDULER_MAX_WAIT_MS = 500;
/**
 * kafkajs rebalances eagerly: when a worker joins or leaves, every member stops fetching until
 * all have rejoined, and a member learns of the rebalance from its next heartbeat, which kafkajs
 * sends only between fetches. So both of these bound how long each scale step stops the whole
 * group: kafkajs' defaults (3 s heartbeats, 5 s long polls) made it 3 to 5 s per step on a real
 * cluster (docs/kubernetes.md). An idle worker pays one fetch and one heartbeat a second.
 */
const GROUP_TIMING = { heartbeatInterval: 1000, maxWaitTimeInMs: 1000 };
/** The worker publishes a few retries and dead letters at a time: small batches, short linger. */
const WORKER_PUBLISHING = {
  lingerMs: 1,
  maxBatchMessages: 500,
  maxBatchBytes: 512 * 1024,
  timeoutMs: 10_000,
  maxPendingMessages: 10_000,
  maxPendingBytes: 64 * 1024 * 1024,
};

export interface RunningWorker {
  /** Port of the probe and metrics server. */
  port: number;
  /** Stops the scheduler, drains in-flight tasks, leaves the groups, disconnects. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Resolves if a consumer died for good (kafkajs does not restart it after some errors): the
   * process can no longer do its work, and should stop and exit so that it is restarted.
   */
  failed: Promise<Error>;
}

/** Wires and starts a worker process: the one place it connects to Kafka and Redis. */
export async function startWorker(
  config: Readonly<WorkerConfig>,
  logger: Logger,
  // In-process callers (tests, benches) get the demo types; the process reads DEMO_HANDLERS.
  handlers: HandlerRegistry = registerDemoHandlers(registerOperationalHandlers(new HandlerRegistry())),
): Promise<RunningWorker> {
  const names = kafkaNames(config.queue);
  const kafka = createKafka(config.kafka, logger);

  await waitForKafka(kafka, logger);
  await prepareTopics(kafka, config.kafka, names);
  const store = new RedisTaskStore({
    url: config.redis.url,
    queue: config.queue,
    ttlSeconds: config.taskTtlSeconds,
    finishedTtlSeconds: config.finishedTaskTtlSeconds,
    indexing: config.taskIndexes,
  });
  const metrics = new WorkerMetrics(handlers.types());
  // Retries and dead letters go to Kafka through the same coalescing publisher as the API's.
  // A retry or dead letter over the topics' limit is refused at once (KafkaRefusedError), never retried.
  const messageBytes = await readMessageLimit(kafka, allTopics(names));
  const publisher = new BatchingPublisher(kafka, {
    ...WORKER_PUBLISHING,
    maxMessageBytes: messageBytes,
    maxBatchBytes: Math.min(WORKER_PUBLISHING.maxBatchBytes, messageBytes),
  });
  const deadLetters = new RedisDeadLetterStore({
    url: config.redis.url,
    queue: config.queue,
    ttlSeconds: config.deadLetterTtlSeconds,
  });
  const cancellations = new CancelListener(config.redis.url, config.queue);
  const outbox = new CallbackOutbox(config.redis.url, config.queue);
  const callbacks = new CallbackSender(config.callbacks, { logger, events: metrics });
  const shutdown = new AbortController();
  // One abort listener per running task (and callback): the default limit of 10 would warn.
  setMaxListeners(config.concurrency * 2 + 10, shutdown.signal);
  const persist = persistent(logger, shutdown.signal);
  let consumerLost!: (error: Error) => void;
  const failed = new Promise<Error>((resolve) => (consumerLost = resolve));
  // Unique per process: a restarted worker on the same pod must not pass for its predecessor.
  const claimant = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const batches = new RedisBatchStore({
    url: config.redis.url,
    queue: config.queue,
    ttlSeconds: config.taskTtlSeconds,
  });
  // Where tasks the queue submits itself go: children, onComplete tasks.
  const enqueue = { names, store, publish: (messages: OutgoingMessage[]) => publisher.publish(messages) };
  const runner = new TaskRunner({
    store,
    handlers,
    events: metrics,
    logger,
    names,
    publish: (messages) => publisher.publish(messages),
    recordDeadLetter: (entry) => deadLetters.add(entry),
    cancellations,
    queueCallback: (id, url) => outbox.enqueue(id, url),
    retryPolicy: config.retry,
    maxResultBytes: config.maxResultBytes,
    persist,
    shutdown: shutdown.signal,
    claim: { claimant, ms: config.claimMs },
    timeouts: config.timeouts,
    spawning: { batches, enqueue },
  });
  const dispatcher = new CallbackDispatcher(
    outbox,
    callbackDelivery({ store, batches, callbacks, shutdown: shutdown.signal }),
    { consumer: claimant, limits: config.callbackDispatch, logger },
  );
  const completions = new RedisWorkStream(
    config.redis.url,
    new RedisKeys(config.queue).batchCompletions(),
    'completers',
  );
  const batchCompletions = new BatchCompletions({
    stream: completions,
    batches,
    enqueue,
    parents: store,
    queueCallback: (id, url) => outbox.enqueue(id, url),
    events: metrics,
    logger: logger.child({ component: 'batches' }),
    consumer: claimant,
    // A completion left by a worker that died (or failed to publish) is taken over as a task
    // claim would be: callbacks' longer idle time is sized for slow receivers, not dead workers.
    claimIdleMs: config.claimMs,
  });
  const permits = new RedisTenantPermits({ url: config.redis.url, queue: config.queue });
  const gate = new TenantGate({
    permits,
    holder: claimant,
    leaseMs: config.tenantLeaseMs,
    events: metrics,
    logger,
  });
  // POST /v1/queue/pause: read before the lanes fetch anything, then followed as it changes.
  const pauses = new PauseGate({
    store: new RedisPauseStore(config.redis.url, config.queue),
    events: metrics,
    logger,
  });
  const worker = createLaneWorkers({
    pauses,
    lanes: names.lanes,
    consumerFor: (lane) =>
      kafka.consumer({ groupId: lane.group, sessionTimeout: config.sessionTimeoutMs, ...GROUP_TIMING }),
    weights: config.laneWeights,
    gate,
    concurrency: config.concurrency,
    commitIntervalMs: config.commitIntervalMs,
    run: (task, handlerDone) => runner.run(task, handlerDone),
    deadLetterPoison: async (entry) => {
      await persist(() =>
        publisher.publish([
          { topic: names.deadLetterTopic, key: entry.id, value: Buffer.from(JSON.stringify(entry)) },
        ]),
      );
      await persist(() => deadLetters.add(entry));
      metrics.deadLettered('poison');
    },
    events: metrics,
    logger,
    onConsumerLost: consumerLost,
  });
  worker.shutdownSignal.addEventListener('abort', () => shutdown.abort());
  // Every worker also runs a scheduler: delayed tasks need no separate deployment, and the
  // scheduler group shares the delay tiers' partitions between workers like the tasks topic's.
  const scheduler = createScheduler({
    consumer: kafka.consumer({
      groupId: names.schedulerGroup,
      sessionTimeout: config.sessionTimeoutMs,
      heartbeatInterval: GROUP_TIMING.heartbeatInterval,
      maxWaitTimeInMs: SCHEDULER_MAX_WAIT_MS,
    }),
    // Idempotent: a retried send cannot duplicate a task; kafkajs needs one request in flight for that.
    producer: kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: JavaCompatiblePartitioner,
    }),
    names,
    store,
    events: metrics,
    logger: logger.child({ component: 'scheduler' }),
    onConsumerLost: consumerLost,
  });

  // Every worker also fires the recurring schedules; each tick runs once whichever fires it
  // (schedules/firer.ts), so no leader is elected and any worker left running keeps them going.
  const schedules = new RedisScheduleStore({ url: config.redis.url, queue: config.queue });
  const firer = new ScheduleFirer({
    store: schedules,
    enqueue: { names, store, publish: (messages) => publisher.publish(messages) },
    holder: claimant,
    options: config.schedules,
    events: metrics,
    logger: logger.child({ component: 'schedules' }),
  });

  const groupMembership = {
    name: 'kafka',
    check: async () => {
      if (!worker.isReady()) throw new Error('not a member of the consumer group');
      if (!scheduler.isReady()) throw new Error('the scheduler is not a member of its consumer group');
    },
  };
  const probes = express().use(
    probeRouter([{ name: 'redis', check: () => store.ping() }, groupMembership], metrics),
  );
  const server = probes.listen(config.port);
  const stop = onceInOrder([
    // Before the scheduler, for the same reason: it feeds the tasks topic. Ticks it leaves due
    // are fired by another worker, or by this one when it is back.
    () => firer.stop(),
    // First: it feeds the tasks topic the worker drains. Bounded, so a broker that does not
    // answer cannot eat the worker's drain time.
    () => withTimeout(scheduler.stop(), SCHEDULER_STOP_TIMEOUT_MS, 'scheduler stop'),
    // A handler that ignores its abort signal must not hold the process past its grace period.
    () =>
      withTimeout(
        worker.stop(config.shutdownTimeoutMs),
        config.shutdownTimeoutMs + WORKER_STOP_MARGIN_MS,
        'worker stop',
      ),
    // After the worker: the tasks it finished while draining queued their callbacks.
    () => {
      shutdown.abort();
      return dispatcher.stop();
    },
    () => outbox.close(),
    () => batchCompletions.stop(),
    () => completions.close(),
    () => batches.close(),
    () => pauses.close(),
    () => publisher.disconnect(),
    () => cancellations.close(),
    async () => {
      gate.close();
      await permits.close();
    },
    () => deadLetters.close(),
    () => schedules.close(),
    () => store.close(),
    () => new Promise<void>((resolve) => server.close(() => resolve())),
  ]);
  try {
    await once(server, 'listening');
    await publisher.connect();
    await cancellations.start();
    await pauses.start();
    await worker.start();
    await scheduler.start();
    firer.start();
    dispatcher.start();
    batchCompletions.start();
  } catch (err) {
    // Nothing started may outlive a failed start (the caller gets no stop() to call).
    await stop().catch(() => undefined);
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  logger.info('worker started', {
    port,
    topics: names.lanes.map((lane) => lane.topic),
    groups: names.lanes.map((lane) => lane.group),
    schedulerGroup: names.schedulerGroup,
  });

  return { port, stop, failed };
}

if (require.main === module) {
  runService(
    'spillway-worker',
    () => loadWorkerConfig(process.env),
    async (config, logger) =>
      startWorker(config, logger, await loadHandlers(config.handlersModule, config.demoHandlers)),
  );
}
