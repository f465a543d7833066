import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createKafka, prepareTopics } from '../shared/kafka/client';
import { kafkaNames } from '../shared/kafka/names';
import { kafkaReadiness } from '../shared/kafka/readiness';
import { onceInOrder, runService } from '../shared/lifecycle';
import type { Logger } from '../shared/logger';
import { RedisTaskStore } from '../shared/redis/redis-task-store';
import { createApp } from './app';
import { loadApiConfig, type ApiConfig } from './config';
import { ApiMetrics } from './metrics';
import { KafkaTaskPublisher } from './task-publisher';

export interface RunningApi {
  port: number;
  /** Stops intake, lets in-flight requests finish, then disconnects. Safe to call twice. */
  stop(): Promise<void>;
}

/** Wires and starts the API process: the one place it connects to Kafka and Redis. */
export async function startApi(config: Readonly<ApiConfig>, logger: Logger): Promise<RunningApi> {
  const names = kafkaNames(config.queue);
  const kafka = createKafka(config.kafka, logger);

  await prepareTopics(kafka, config.kafka, names);
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
  const port = (server.address() as AddressInfo).port;
  logger.info('api listening', { port, topic: names.tasksTopic });

  const closeServer = () =>
    new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeIdleConnections();
    });
  return {
    port,
    stop: onceInOrder([
      closeServer,
      () => publisher.disconnect(),
      () => kafkaCheck.close(),
      () => store.close(),
    ]),
  };
}

if (require.main === module) {
  runService(
    'spillway-api',
    () => loadApiConfig(process.env),
    (config, logger) => startApi(config, logger),
  );
}
