import { once } from 'node:events';
import express from 'express';
import { ConfigError } from '../shared/env-reader';
import { probeRouter } from '../shared/http/probes';
import { createKafka, ensureTopics } from '../shared/kafka/client';
import { kafkaNames } from '../shared/kafka/names';
import { exitOnSignals, onceInOrder } from '../shared/lifecycle';
import { createLogger } from '../shared/logger';
import { RedisTaskStore } from '../shared/redis/redis-task-store';
import { withTimeout } from '../shared/timeout';
import { loadWorkerConfig } from './config';
import { registerDemoHandlers } from './demo-handlers';
import { HandlerRegistry } from './handlers';
import { WorkerMetrics } from './metrics';
import { createWorker } from './worker';

/** Wires the worker process: the only file that reads the environment and opens connections. */
async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  const logger = createLogger(config.logLevel, { service: 'spillway-worker', queue: config.queue });
  const names = kafkaNames(config.queue);
  const kafka = createKafka(config.kafka, logger);

  if (config.kafka.createTopics) {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [names.tasksTopic], config.kafka.taskPartitions).finally(() =>
      admin.disconnect(),
    );
  }
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
    handlers: registerDemoHandlers(new HandlerRegistry()),
    events: metrics,
    logger,
  });

  const probes = express().use(
    probeRouter(
      [
        { name: 'redis', check: () => store.ping() },
        {
          name: 'kafka',
          check: async () => {
            if (!worker.isReady()) throw new Error('not a member of the consumer group');
          },
        },
      ],
      metrics,
    ),
  );
  const server = probes.listen(config.port);
  await once(server, 'listening');
  await worker.start();
  logger.info('worker started', { port: config.port, topic: names.tasksTopic, group: names.workerGroup });

  exitOnSignals(
    logger,
    onceInOrder([
      // A handler that ignores its abort signal must not hold the process past its grace period.
      () =>
        withTimeout(worker.stop(config.shutdownTimeoutMs), config.shutdownTimeoutMs + 5000, 'worker stop'),
      () => store.close(),
      () => new Promise<void>((resolve) => server.close(() => resolve())),
    ]),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
