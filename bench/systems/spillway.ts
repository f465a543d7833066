import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KAFKA_BROKERS, REDIS_URL } from '../stack';
import { built } from './built';
import {
  NOISY_SPILL,
  NOISY_TENANT_KEYS,
  NOISY_TENANTS,
  TENANT_BENCH_KEY,
  type StartOptions,
  type Starter,
} from './types';

const { loadApiConfig } = built<typeof import('../../services/api/config')>('api/config');
const { startApi } = built<typeof import('../../services/api/main')>('api/main');
const { createLogger } = built<typeof import('../../services/shared/logger')>('shared/logger');
const { loadWorkerConfig } = built<typeof import('../../services/worker/config')>('worker/config');
const { startWorker } = built<typeof import('../../services/worker/main')>('worker/main');

// Warnings and errors still show: a benchmark that hides failures measures nothing.
export const logger = createLogger('warn');

/** Spillway as built: its own configuration loaders, defaults except what the run must pin. */
export const env = (o: StartOptions) => ({
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

/**
 * Spillway with tenants on: a keys file, and a tenant whose rate, backlog and spill allowance are
 * checked on every submission (the allowance's script runs for every request; nothing spills).
 */
export const startSpillwayTenantsApi: Starter = (o) => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'spillway-bench-keys-')), 'keys');
  writeFileSync(
    file,
    'tenant bench rate=1000000 burst=10000000 max-queued=1000000000 max-running=1000 ' +
      'spill-rate=1000000 spill-burst=10000000\n' +
      `key bench ${TENANT_BENCH_KEY} tasks:submit,tasks:read\n`,
  );
  return startApi(loadApiConfig({ ...env(o), API_KEYS_FILE: file }), logger);
};

/**
 * Spillway with two tenants, `a` and `b`, for the noisy-neighbour scenario: no limit of their own
 * (none is set queue-wide either), and the spill allowance of NOISY_SPILL when it is on. The
 * API refuses a keys file with a setting it does not know, so the run then fails at start-up.
 */
export const startSpillwayFairApi: Starter = (o) => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'spillway-bench-keys-')), 'keys');
  const spill = NOISY_SPILL ? ` spill-rate=${NOISY_SPILL.rate} spill-burst=${NOISY_SPILL.burst}` : '';
  writeFileSync(
    file,
    NOISY_TENANTS.map(
      (t) => `tenant ${t}${spill}\nkey ${t} ${NOISY_TENANT_KEYS[t]} tasks:submit,tasks:read\n`,
    ).join(''),
  );
  return startApi(loadApiConfig({ ...env(o), API_KEYS_FILE: file }), logger);
};

export const startSpillwayWorker: Starter = (o) =>
  startWorker(loadWorkerConfig({ ...env(o), WORKER_CONCURRENCY: String(o.concurrency) }), logger);

/**
 * Spillway without the listing's indexes, totals and live events (TASK_INDEXES=false, in the
 * API and the worker alike, as the setting requires): what keeping them costs (upkeep scenario).
 */
const unindexed = (o: StartOptions) => ({ ...env(o), TASK_INDEXES: 'false' });

export const startSpillwayUnindexedApi: Starter = (o) => startApi(loadApiConfig(unindexed(o)), logger);

export const startSpillwayUnindexedWorker: Starter = (o) =>
  startWorker(loadWorkerConfig({ ...unindexed(o), WORKER_CONCURRENCY: String(o.concurrency) }), logger);
