import { freeze, readCommonConfig, type CommonConfig } from '../shared/config';
import { EnvReader } from '../shared/env-reader';
import type { BatchingOptions } from '../shared/kafka/batching-publisher';
import { TASK_TYPE_PATTERN } from './schemas';

export interface ApiConfig extends CommonConfig {
  /** PORT, default 8080. */
  port: number;
  /** Bearer keys accepted on /v1 (API_KEYS, comma-separated, at least 16 characters each); none: auth off. */
  apiKeys: string[];
  /** Task types accepted (TASK_TYPES, comma-separated); empty: any type. */
  allowedTypes: string[];
  /** Largest request body accepted (MAX_BODY_BYTES, default 1 MiB). */
  maxBodyBytes: number;
  /** Tasks in one POST /v1/tasks/batch at most (BATCH_MAX_TASKS, default 1000). */
  maxBatchTasks: number;
  /** How long an Idempotency-Key is remembered (IDEMPOTENCY_TTL_SECONDS, default 24 h). */
  idempotencyTtlSeconds: number;
  publishing: BatchingOptions;
}

export function loadApiConfig(env: NodeJS.ProcessEnv): Readonly<ApiConfig> {
  const reader = new EnvReader(env);
  const config: ApiConfig = {
    ...readCommonConfig(reader),
    port: reader.int('PORT', 8080, { min: 0, max: 65535 }),
    apiKeys: reader.list(
      'API_KEYS',
      { re: /^[\x21-\x7e]{16,256}$/, hint: '16 to 256 printable characters each' },
      true,
    ),
    allowedTypes: reader.list('TASK_TYPES', { re: new RegExp(TASK_TYPE_PATTERN), hint: 'task type names' }),
    maxBodyBytes: reader.int('MAX_BODY_BYTES', 1024 * 1024, { min: 1024, max: 64 * 1024 * 1024 }),
    maxBatchTasks: reader.int('BATCH_MAX_TASKS', 1000, { min: 1, max: 10_000 }),
    idempotencyTtlSeconds: reader.int('IDEMPOTENCY_TTL_SECONDS', 24 * 3600, { min: 60 }),
    publishing: {
      /** PUBLISH_TIMEOUT_MS, default 5000: longest wait for Kafka before answering 503. */
      timeoutMs: reader.int('PUBLISH_TIMEOUT_MS', 5000, { min: 100, max: 120_000 }),
      /** PUBLISH_LINGER_MS, default 2: how long an idle publisher waits to fill a batch. */
      lingerMs: reader.int('PUBLISH_LINGER_MS', 2, { min: 0, max: 1000 }),
      /** PUBLISH_BATCH_MESSAGES, default 2000. */
      maxBatchMessages: reader.int('PUBLISH_BATCH_MESSAGES', 2000, { min: 1, max: 100_000 }),
      /** PUBLISH_BATCH_BYTES, default 900 KiB: under Kafka's default message.max.bytes of 1 MiB. */
      maxBatchBytes: reader.int('PUBLISH_BATCH_BYTES', 900 * 1024, { min: 1024, max: 64 * 1024 * 1024 }),
      /** PUBLISH_MAX_PENDING, default 100000: beyond it submissions get 503 at once. */
      maxPendingMessages: reader.int('PUBLISH_MAX_PENDING', 100_000, { min: 1 }),
    },
  };
  reader.finish();
  return freeze(config);
}
