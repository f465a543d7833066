import { EnvReader } from './env-reader';
import { LOG_LEVELS, type LogLevel } from './logger';

/** Settings both processes share; each process adds its own in services/<process>/config.ts. */
export interface CommonConfig {
  /** Names the Kafka topics, consumer group and Redis keys of one queue (SPILLWAY_QUEUE, default "default"). */
  queue: string;
  kafka: {
    /** KAFKA_BROKERS, default 127.0.0.1:9092 (the local stack). */
    brokers: string[];
    /** KAFKA_CLIENT_ID, default "spillway". */
    clientId: string;
    /** Create the topics at start-up if missing (KAFKA_CREATE_TOPICS, default true; the chart uses Strimzi KafkaTopics). */
    createTopics: boolean;
    /** Partitions of the tasks topic when Spillway creates it (KAFKA_TASK_PARTITIONS, default 6). */
    taskPartitions: number;
    /** SASL credentials (KAFKA_SASL_MECHANISM plain|scram-sha-256|scram-sha-512, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD); none by default. */
    sasl?: { mechanism: SaslMechanism; username: string; password: string };
    /** TLS to the brokers (KAFKA_SSL, default false). */
    ssl?: boolean;
  };
  redis: {
    /** REDIS_URL, default redis://127.0.0.1:6379 (the local stack). */
    url: string;
  };
  /**
   * How long an unfinished task's record lives in Redis after its last change (TASK_TTL_SECONDS,
   * default 7 days: the tasks topic's retention, so a record outlives its waiting task).
   */
  taskTtlSeconds: number;
  /** How long a finished task's record (and result) is kept (FINISHED_TASK_TTL_SECONDS, default 1 day). */
  finishedTaskTtlSeconds: number;
  /** How long a dead letter is kept in Redis for listing and replay (DEAD_LETTER_TTL_SECONDS, default 7 days). */
  deadLetterTtlSeconds: number;
  /**
   * Keep the task listing's indexes, totals and live events in Redis beside the records
   * (TASK_INDEXES, default true): GET /v1/tasks, GET /v1/events and the console need them. The
   * API and every worker of a queue must agree.
   */
  taskIndexes: boolean;
  /** LOG_LEVEL, default info. */
  logLevel: LogLevel;
}

export const SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = Exclude<(typeof SASL_MECHANISMS)[number], 'none'>;

function readSasl(env: EnvReader): CommonConfig['kafka']['sasl'] {
  const mechanism = env.oneOf('KAFKA_SASL_MECHANISM', 'none', SASL_MECHANISMS);
  if (mechanism === 'none') return undefined;
  return {
    mechanism,
    username: env.required('KAFKA_SASL_USERNAME', `needed with KAFKA_SASL_MECHANISM=${mechanism}`),
    password: env.required('KAFKA_SASL_PASSWORD', `needed with KAFKA_SASL_MECHANISM=${mechanism}`),
  };
}

export function readCommonConfig(env: EnvReader): CommonConfig {
  const sasl = readSasl(env);
  return {
    queue: env.string('SPILLWAY_QUEUE', 'default', {
      re: /^[a-z0-9][a-z0-9-]{0,62}$/,
      hint: 'lower-case letters, digits and dashes, at most 63 (it names topics and keys)',
    }),
    kafka: {
      brokers: env.hostPorts('KAFKA_BROKERS', '127.0.0.1:9092'),
      clientId: env.string('KAFKA_CLIENT_ID', 'spillway'),
      createTopics: env.oneOf('KAFKA_CREATE_TOPICS', 'true', ['true', 'false']) === 'true',
      taskPartitions: env.int('KAFKA_TASK_PARTITIONS', 6, { min: 1, max: 10_000 }),
      ...(sasl && { sasl }),
      ssl: env.oneOf('KAFKA_SSL', 'false', ['true', 'false']) === 'true',
    },
    redis: { url: env.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']) },
    taskTtlSeconds: env.int('TASK_TTL_SECONDS', 7 * 24 * 3600, { min: 60 }),
    finishedTaskTtlSeconds: env.int('FINISHED_TASK_TTL_SECONDS', 24 * 3600, { min: 60 }),
    deadLetterTtlSeconds: env.int('DEAD_LETTER_TTL_SECONDS', 7 * 24 * 3600, { min: 60 }),
    taskIndexes: env.oneOf('TASK_INDEXES', 'true', ['true', 'false']) === 'true',
    logLevel: env.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
  };
}

/** Deep-freezes a config object so nothing can change it after start-up. */
export function freeze<T extends object>(value: T): Readonly<T> {
  for (const inner of Object.values(value)) {
    if (inner && typeof inner === 'object' && !Object.isFrozen(inner)) freeze(inner);
  }
  return Object.freeze(value);
}
