import { loadApiConfig } from '../../services/api/config';
import { startApi } from '../../services/api/main';
import { createLogger } from '../../services/shared/logger';
import { loadWorkerConfig } from '../../services/worker/config';
import { startWorker } from '../../services/worker/main';
import { KAFKA_BROKERS, REDIS_URL } from '../stack';
import type { StartOptions, Starter } from './types';

// Warnings and errors still show: a benchmark that hides failures measures nothing.
const logger = createLogger('warn');

/** Spillway as built: its own configuration loaders, defaults except what the run must pin. */
const env = (o: StartOptions) => ({
  PORT: '0',
  SPILLWAY_QUEUE: o.queue,
  KAFKA_BROKERS,
  REDIS_URL,
  KAFKA_TASK_PARTITIONS: String(o.partitions),
  // Bench records need not outlive the run by a week.
  TASK_TTL_SECONDS: '3600',
  LOG_LEVEL: 'warn',
});

export const startSpillwayApi: Starter = (o) => startApi(loadApiConfig(env(o)), logger);

export const startSpillwayWorker: Starter = (o) =>
  startWorker(loadWorkerConfig({ ...env(o), WORKER_CONCURRENCY: String(o.concurrency) }), logger);
