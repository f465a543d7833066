import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../shared/env-reader';
import { createKafka, prepareTopics } from '../shared/kafka/client';
import { kafkaNames } from '../shared/kafka/names';
import { kafkaReadiness } from '../shared/kafka/readiness';
import { exitOnSignals, onceInOrder } from '../shared/lifecycle';
import { createLogger, type Logger } from '../shared/logger';
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
  let config: Readonly<ApiConfig>;
  try {
    config = loadApiConfig(process.env);
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, { service: 'spillway-api', queue: config.queue });
  startApi(config, logger).then(
    (api) => exitOnSignals(logger, api.stop),
    (err: unknown) => {
      logger.error('api failed to start', { error: String(err) });
      process.exit(1);
    },
  );
}
