import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { probeRouter } from '../shared/http/probes';
import { createKafka, prepareTopics } from '../shared/kafka/client';
import { kafkaNames } from '../shared/kafka/names';
import { onceInOrder, runService } from '../shared/lifecycle';
import type { Logger } from '../shared/logger';
import { RedisTaskStore } from '../shared/redis/redis-task-store';
import { withTimeout } from '../shared/timeout';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { registerDemoHandlers } from './demo-handlers';
import { HandlerRegistry } from './handlers';
import { WorkerMetrics } from './metrics';
import { createWorker } from './worker';

export interface RunningWorker {
  /** Port of the probe and metrics server. */
  port: number;
  /** Drains in-flight tasks, leaves the group, disconnects. Safe to call twice. */
  stop(): Promise<void>;
}

/** Wires and starts a worker process: the one place it connects to Kafka and Redis. */
export async function startWorker(
  config: Readonly<WorkerConfig>,
  logger: Logger,
  handlers: HandlerRegistry = registerDemoHandlers(new HandlerRegistry()),
): Promise<RunningWorker> {
  const names = kafkaNames(config.queue);
  const kafka = createKafka(config.kafka, logger);

  await prepareTopics(kafka, config.kafka, names);
  const store = new RedisTaskStore({
    url: config.redis.url,
    queue: config.queue,
    ttlSeconds: config.taskTtlSeconds,
  });
  const metrics = new WorkerMetrics();
  const worker = createWorker({
    consumer: kafka.consumer({ groupId: names.workerGroup, sessionTimeout: config.sessionTimeoutMs }),
    tasksTopic: names.tasksTopic,
    heartbeatIntervalMs: Math.floor(config.sessionTimeoutMs / 10),
    store,
    handlers,
    events: metrics,
    logger,
  });

  const groupMembership = {
    name: 'kafka',
    check: async () => {
      if (!worker.isReady()) throw new Error('not a member of the consumer group');
    },
  };
  const probes = express().use(
    probeRouter([{ name: 'redis', check: () => store.ping() }, groupMembership], metrics),
  );
  const server = probes.listen(config.port);
  await once(server, 'listening');
  await worker.start();
  const port = (server.address() as AddressInfo).port;
  logger.info('worker started', { port, topic: names.tasksTopic, group: names.workerGroup });

  return {
    port,
    stop: onceInOrder([
      // A handler that ignores its abort signal must not hold the process past its grace period.
      () =>
        withTimeout(worker.stop(config.shutdownTimeoutMs), config.shutdownTimeoutMs + 5000, 'worker stop'),
      () => store.close(),
      () => new Promise<void>((resolve) => server.close(() => resolve())),
    ]),
  };
}

if (require.main === module) {
  runService(
    'spillway-worker',
    () => loadWorkerConfig(process.env),
    (config, logger) => startWorker(config, logger),
  );
}
