import { RedisBatchStore } from '../shared/redis/batch-store';
import { RedisLaneAssigner } from '../shared/redis/lane-assigner';
import { LaneChoice } from './lane-choice';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { BatchingPublisher } from '../shared/kafka/batching-publisher';
import { createKafka, prepareTopics } from '../shared/kafka/client';
import { KafkaInspector } from '../shared/kafka/inspector';
import { allTopics, kafkaNames } from '../shared/kafka/names';
import { readMessageLimit } from '../shared/kafka/refusals';
import { onceInOrder, runService } from '../shared/lifecycle';
import type { Logger } from '../shared/logger';
import { RedisDeadLetterStore } from '../shared/redis/dead-letter-store';
import { IdempotencyStore } from '../shared/redis/idempotency-store';
import { RedisRateLimiter } from '../shared/redis/rate-limiter';
import { RedisTaskStore } from '../shared/redis/redis-task-store';
import { TaskIndex } from '../shared/redis/task-index';
import { TaskIndexSweeper } from './task-index-sweeper';
import { TaskWatcher } from '../shared/redis/task-watcher';
import { SPILLWAY_VERSION } from '../shared/version';
import { RedisTenantPermits } from '../shared/redis/tenant-permits';
import type { Tenant } from '../shared/tenancy/tenant';
import { ApiKeyFile } from './api-key-file';
import { ApiKeyRing } from './auth';
import { TenantLimitPublisher } from './tenant-limits';
import { createApp } from './app';
import { loadApiConfig, type ApiConfig } from './config';
import { ApiMetrics } from './metrics';
import { RETRY_HEADROOM_BYTES, TaskSubmitter } from './submit';
import { DeadLetterRebuild } from './dead-letter-rebuild';
import { RedisPauseStore } from '../shared/redis/pause-store';
import { AutoscalerSync } from './autoscaler-sync';
import { RedisScheduleStore } from '../shared/redis/schedule-store';
import { loadConsoleAssets } from './console/assets';
import { TaskEventHub } from './live/task-event-hub';

export interface RunningApi {
  port: number;
  /** Stops intake, lets in-flight requests finish, sends what is pending, disconnects. Safe to call twice. */
  stop(): Promise<void>;
}

/** Wires and starts the API process: the one place it connects to Kafka and Redis. */
export async function startApi(config: Readonly<ApiConfig>, logger: Logger): Promise<RunningApi> {
  // First: a key file that cannot be read must stop the start before anything connects.
  // The keys file's changes reach the tenant limits once those are wired, after connecting.
  const onTenants: { change?: (tenants: readonly Tenant[]) => void } = {};
  const accessFiles = [
    ...(config.apiTenantsFile
      ? [{ env: 'API_TENANTS_FILE', path: config.apiTenantsFile, digestsOnly: true }]
      : []),
    ...(config.apiKeysFile ? [{ env: 'API_KEYS_FILE', path: config.apiKeysFile }] : []),
  ];
  const keyFile =
    accessFiles.length === 0
      ? undefined
      : await ApiKeyFile.open(accessFiles, {
          fixed: config.apiKeys,
          reloadMs: config.apiKeysReloadMs,
          logger,
          onChange: (ring) => onTenants.change?.(ring.tenantList()),
        });
  // Before connecting too: a bad kubeconfig stops the start. Loaded only when configured: the
  // Kubernetes client is large, and an ES module jest cannot load (Node 20.19+ require()s it).
  const fleet =
    config.fleet &&
    (await import('../shared/kubernetes/fleet-reader')).KubeFleetReader.create(
      config.fleet.source,
      config.fleet.targets,
    );
  // The same cluster access pauses KEDA's ScaledObject while the queue is (FLEET_PAUSE_AUTOSCALING).
  const autoscalerPause =
    config.fleet?.pauseAutoscaling && config.fleet.targets.scaledObject
      ? new (await import('../shared/kubernetes/autoscaler-pause')).KubeAutoscalerPause(
          config.fleet.source,
          config.fleet.targets.namespace,
          config.fleet.targets.scaledObject,
        )
      : undefined;
  // The console's files, read once (services/api/console/assets.ts); unbuilt, it only warns.
  const webConsole = config.webConsole.enabled
    ? await loadConsoleAssets(config.webConsole.dir, logger)
    : undefined;
  const names = kafkaNames(config.queue);
  const kafka = createKafka(config.kafka, logger);
  await prepareTopics(kafka, config.kafka, names);
  // What the topics take, read once: tasks that could not be retried or dead-lettered are refused.
  const messageBytes = await readMessageLimit(kafka, allTopics(names));
  if (messageBytes < 2 * RETRY_HEADROOM_BYTES) {
    throw new Error(
      `the queue's topics take messages of at most ${messageBytes} bytes (max.message.bytes); Spillway needs ${2 * RETRY_HEADROOM_BYTES} or more`,
    );
  }

  const store = new RedisTaskStore({
    url: config.redis.url,
    queue: config.queue,
    ttlSeconds: config.taskTtlSeconds,
    finishedTtlSeconds: config.finishedTaskTtlSeconds,
    indexing: config.taskIndexes,
  });
  // Each tenant's max-running, where the workers' leases read it.
  const permits = new RedisTenantPermits({ url: config.redis.url, queue: config.queue });
  const tenantLimits = new TenantLimitPublisher(permits, config.tenantMaxRunning, logger);
  onTenants.change = (tenants) => void tenantLimits.publish(tenants);
  await tenantLimits.publish((keyFile?.current() ?? new ApiKeyRing(config.apiKeys)).tenantList());
  const metrics = new ApiMetrics(store, config.allowedTypes);
  const publisher = new BatchingPublisher(
    kafka,
    {
      ...config.publishing,
      maxMessageBytes: messageBytes,
      maxBatchBytes: Math.min(config.publishing.maxBatchBytes, messageBytes),
    },
    metrics,
  );
  await publisher.connect();
  // A key's claim outlasts the publish timeout, which bounds a live request: after that a retry
  // takes over the claim (and its seed) from a holder that died without answering.
  const idempotency = new IdempotencyStore(
    config.redis.url,
    config.queue,
    config.idempotencyTtlSeconds,
    config.publishing.timeoutMs + 10_000,
  );
  // A replay's claim must outlive its submission.
  const deadLetters = new RedisDeadLetterStore({
    url: config.redis.url,
    queue: config.queue,
    ttlSeconds: config.deadLetterTtlSeconds,
    replayClaimSeconds: Math.ceil(config.publishing.timeoutMs / 1000) + 60,
  });
  const watcher = new TaskWatcher(config.redis.url, config.queue);
  // GET /v1/tasks: the indexes the transition script keeps, and their sweeper.
  const taskIndex = config.taskIndexes
    ? new TaskIndex({ url: config.redis.url, queue: config.queue })
    : undefined;
  const sweeper = taskIndex && new TaskIndexSweeper(taskIndex, logger);
  // GET /v1/events: one subscriber for every stream of this process; without TASK_INDEXES nothing publishes.
  const live = config.taskIndexes
    ? new TaskEventHub({
        url: config.redis.url,
        queue: config.queue,
        store,
        limits: config.liveEvents,
        events: metrics,
        logger,
      })
    : undefined;
  const pauses = new RedisPauseStore(config.redis.url, config.queue);
  const autoscaler = new AutoscalerSync(autoscalerPause, pauses, logger);
  const schedules = new RedisScheduleStore({ url: config.redis.url, queue: config.queue });
  metrics.countSchedulesFrom(schedules);
  const batches = new RedisBatchStore({
    url: config.redis.url,
    queue: config.queue,
    ttlSeconds: config.taskTtlSeconds,
  });
  metrics.countBatchesFrom(batches);
  // Lag questions may retry (a coordinator can be busy); the readiness probe must not, so it fails fast.
  const inspector = new KafkaInspector(kafka);
  const probe = new KafkaInspector(
    createKafka(config.kafka, logger, { retries: 0, connectionTimeoutMs: 1000 }),
  );
  // The keys file may give tenants rates of their own, now or after a reload.
  const rateLimiter =
    config.rateLimit.perSecond > 0 || keyFile
      ? new RedisRateLimiter({ url: config.redis.url, queue: config.queue, ...config.rateLimit })
      : undefined;

  // A key's hold on its lane lasts, at most, as long as its tasks' records.
  const laneAssigner = new RedisLaneAssigner({
    url: config.redis.url,
    queue: config.queue,
    entryLifetimeMs: config.taskTtlSeconds * 1000,
  });
  const lanes = new LaneChoice({
    assigner: laneAssigner,
    defaultSpill: config.tenantSpill,
    events: metrics,
    logger,
  });

  const app = createApp({
    config,
    names,
    store,
    rebuild: new DeadLetterRebuild({ kafka, names, store: deadLetters, logger }),
    submitter: new TaskSubmitter({
      publisher,
      store,
      names,
      events: metrics,
      logger,
      lanes,
      maxTaskBytes: messageBytes - RETRY_HEADROOM_BYTES,
    }),
    idempotency,
    deadLetters,
    pauses,
    autoscaler,
    batches,
    schedules,
    watcher,
    taskIndex,
    ...(live && { live }),
    inspector,
    // Ready while Kafka answers: submissions need only Kafka (the worker writes a record Redis
    // missed), so a Redis outage must not take every API pod out of the Service.
    readiness: [{ name: 'redis', check: () => store.ping(), degradesOnly: true }, probe],
    events: metrics,
    metrics,
    logger,
    version: SPILLWAY_VERSION,
    fleet,
    ...(webConsole && { console: webConsole }),
    ...(keyFile && { keyRing: keyFile.current }),
    ...(rateLimiter && { rateLimiter }),
  });
  autoscaler.start();
  sweeper?.start();
  const server = app.listen(config.port);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  logger.info('api listening', {
    port,
    topics: names.lanes.map((lane) => lane.topic),
    auth: config.apiKeys.length > 0 || keyFile !== undefined,
    rateLimitPerSecond: config.rateLimit.perSecond,
  });

  const closeServer = () =>
    new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeIdleConnections();
    });
  return {
    port,
    stop: onceInOrder([
      // Long-polls end first (they answer with the record as it is), so closing the server is quick.
      () => watcher.close(),
      // Event streams never end by themselves: end them, or closing the server waits forever.
      async () => live?.close(),
      closeServer,
      () => publisher.disconnect(),
      () => inspector.close(),
      () => probe.close(),
      () => idempotency.close(),
      async () => sweeper?.stop(),
      async () => taskIndex?.close(),
      () => deadLetters.close(),
      () => schedules.close(),
      () => batches.close(),
      async () => autoscaler.close(),
      () => pauses.close(),
      async () => rateLimiter?.close(),
      () => laneAssigner.close(),
      async () => keyFile?.close(),
      async () => tenantLimits.close(),
      () => permits.close(),
      () => store.close(),
    ]),
  };
}

if (require.main === module) {
  runService('spillway-api', () => loadApiConfig(process.env), startApi);
}
