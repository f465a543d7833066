import { once } from 'node:events';
import { createKafka, ensureTopics } from '../shared/kafka/client';
import { kafkaNames } from '../shared/kafka/names';
import { kafkaReadiness } from '../shared/kafka/readiness';
import { exitOnSignals, onceInOrder } from '../shared/lifecycle';
import { createLogger } from '../shared/logger';
import { RedisTaskStore } from '../shared/redis/redis-task-store';
import { ConfigError } from '../shared/env-reader';
import { createApp } from './app';
import { loadApiConfig } from './config';
import { ApiMetrics } from './metrics';
import { KafkaTaskPublisher } from './task-publisher';

/** Wires the API process: the only file that reads the environment and opens connections. */
async function main(): Promise<void> {
  const config = loadApiConfig(process.env);
  const logger = createLogger(config.logLevel, { service: 'spillway-api', queue: config.queue });
  const names = kafkaNames(config.queue);
  const kafka = createKafka(config.kafka, logger);

  if (config.kafka.createTopics) {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [names.tasksTopic], config.kafka.taskPartitions).finally(() =>
      admin.disconnect(),
    );
  }
  const publisher = new KafkaTaskPublisher(kafka, names.tasksTopic, config.publishTimeoutMs);
  await publisher.connect();
  const store = new RedisTaskStore({
    url: config.redis.url,
    queue: config.queue,
    ttlSeconds: config.taskTtlSeconds,
  });
  const kafkaCheck = kafkaReadiness(kafka);
  const metrics = new ApiMetrics();

  const app = createApp({
    config,
    store,
    publisher,
    readiness: [{ name: 'redis', check: () => store.ping() }, kafkaCheck],
    events: metrics,
    metrics,
    logger,
  });
  const server = app.listen(config.port);
  await once(server, 'listening');
  logger.info('api listening', { port: config.port, topic: names.tasksTopic });

  // Stop intake first, let in-flight requests finish (their sends complete), then disconnect.
  const closeServer = () =>
    new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeIdleConnections();
    });
  exitOnSignals(
    logger,
    onceInOrder([closeServer, () => publisher.disconnect(), () => kafkaCheck.close(), () => store.close()]),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
