import { loadApiConfig } from '../../services/api/config';
import { loadWorkerConfig } from '../../services/worker/config';
import { problemsOf } from '../helpers/config';

describe('API configuration', () => {
  it('defaults to the local stack', () => {
    const config = loadApiConfig({});
    expect(config.port).toBe(8080);
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.queue).toBe('default');
    expect(config.maxBodyBytes).toBe(1024 * 1024);
  });

  it('reads every variable it is given', () => {
    const config = loadApiConfig({
      PORT: '9000',
      KAFKA_BROKERS: 'kafka-0:9092, kafka-1:9092',
      REDIS_URL: 'rediss://:secret@redis.example:6380/2',
      SPILLWAY_QUEUE: 'emails',
      KAFKA_CREATE_TOPICS: 'false',
      KAFKA_TASK_PARTITIONS: '24',
      PUBLISH_TIMEOUT_MS: '2500',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      port: 9000,
      queue: 'emails',
      publishing: { timeoutMs: 2500 },
      logLevel: 'debug',
      kafka: { brokers: ['kafka-0:9092', 'kafka-1:9092'], createTopics: false, taskPartitions: 24 },
      redis: { url: 'rediss://:secret@redis.example:6380/2' },
    });
  });

  it('keeps unfinished tasks a week, finished ones a day and dead letters a week, unless told otherwise', () => {
    expect(loadApiConfig({})).toMatchObject({
      taskTtlSeconds: 7 * 24 * 3600,
      finishedTaskTtlSeconds: 24 * 3600,
      deadLetterTtlSeconds: 7 * 24 * 3600,
    });
    expect(
      loadWorkerConfig({
        TASK_TTL_SECONDS: '7200',
        FINISHED_TASK_TTL_SECONDS: '600',
        DEAD_LETTER_TTL_SECONDS: '3600',
      }),
    ).toMatchObject({ taskTtlSeconds: 7200, finishedTaskTtlSeconds: 600, deadLetterTtlSeconds: 3600 });
    expect(problemsOf(() => loadApiConfig({ FINISHED_TASK_TTL_SECONDS: '5' }))[0]).toMatch(
      /FINISHED_TASK_TTL_SECONDS/,
    );
  });

  it('rejects a bad value naming the variable', () => {
    expect(problemsOf(() => loadApiConfig({ PORT: 'eighty' }))).toEqual([
      'PORT="eighty" is not valid: expected an integer from 0 to 65535',
    ]);
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf(() =>
      loadApiConfig({
        PORT: '70000',
        KAFKA_BROKERS: 'kafka-without-port',
        REDIS_URL: 'http://redis:6379',
        LOG_LEVEL: 'loud',
        SPILLWAY_QUEUE: 'Has Spaces',
      }),
    );
    expect(problems.map((p) => p.split('=')[0])).toEqual([
      'SPILLWAY_QUEUE',
      'KAFKA_BROKERS',
      'REDIS_URL',
      'LOG_LEVEL',
      'PORT',
    ]);
  });

  it('keeps a Redis password out of the error message', () => {
    const [problem] = problemsOf(() => loadApiConfig({ REDIS_URL: 'http://:hunter2@redis:6379' }));
    expect(problem).toContain('REDIS_URL');
    expect(problem).not.toContain('hunter2');
  });

  it('rejects numbers that are not whole or out of range', () => {
    expect(problemsOf(() => loadApiConfig({ PUBLISH_TIMEOUT_MS: '1.5' }))[0]).toMatch(/^PUBLISH_TIMEOUT_MS=/);
    expect(problemsOf(() => loadApiConfig({ KAFKA_TASK_PARTITIONS: '0' }))[0]).toMatch(
      /^KAFKA_TASK_PARTITIONS=/,
    );
  });

  it('reads API keys and the task type allow-list, never echoing a bad key', () => {
    const config = loadApiConfig({
      API_KEYS: 'k'.repeat(16) + ',' + 'z'.repeat(20),
      TASK_TYPES: 'echo, email.send',
    });
    expect(config.apiKeys).toEqual(['k'.repeat(16), 'z'.repeat(20)]);
    expect(config.allowedTypes).toEqual(['echo', 'email.send']);
    const [problem] = problemsOf(() => loadApiConfig({ API_KEYS: 'short-secret' }));
    expect(problem).toMatch(/^API_KEYS has values that are not valid \(1 value\(s\) not shown\)/);
    expect(problem).not.toContain('short-secret');
  });

  it('reads Kafka SASL and TLS settings, and needs credentials with a mechanism', () => {
    expect(loadApiConfig({}).kafka).toMatchObject({ ssl: false });
    expect(loadApiConfig({}).kafka.sasl).toBeUndefined();
    const config = loadApiConfig({
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'spillway',
      KAFKA_SASL_PASSWORD: 's3cret',
      KAFKA_SSL: 'true',
    });
    expect(config.kafka).toMatchObject({
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'spillway', password: 's3cret' },
    });
    const problems = problemsOf(() => loadApiConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-256' }));
    expect(problems).toEqual([
      'KAFKA_SASL_USERNAME is not set: needed with KAFKA_SASL_MECHANISM=scram-sha-256',
      'KAFKA_SASL_PASSWORD is not set: needed with KAFKA_SASL_MECHANISM=scram-sha-256',
    ]);
    expect(problemsOf(() => loadApiConfig({ KAFKA_SASL_MECHANISM: 'gssapi' }))[0]).toMatch(
      /^KAFKA_SASL_MECHANISM=/,
    );
  });

  it('treats an empty variable as unset', () => {
    expect(loadApiConfig({ PORT: '' }).port).toBe(8080);
  });

  it('is frozen', () => {
    const config = loadApiConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.kafka)).toBe(true);
  });
});

describe('worker configuration', () => {
  it('defaults its probe port to 8081', () => {
    expect(loadWorkerConfig({}).port).toBe(8081);
  });

  it('rejects a session timeout Kafka would refuse', () => {
    expect(problemsOf(() => loadWorkerConfig({ KAFKA_SESSION_TIMEOUT_MS: '1000' }))[0]).toMatch(
      /^KAFKA_SESSION_TIMEOUT_MS="1000" is not valid/,
    );
  });

  it('claims attempts for as long as Kafka takes to notice a dead worker, unless told otherwise', () => {
    expect(loadWorkerConfig({}).claimMs).toBe(30_000);
    expect(loadWorkerConfig({ KAFKA_SESSION_TIMEOUT_MS: '6000' }).claimMs).toBe(6000);
    expect(loadWorkerConfig({ TASK_CLAIM_MS: '10000' }).claimMs).toBe(10_000);
  });

  it('times every attempt out: 15 minutes unless the task says, an hour at most', () => {
    expect(loadWorkerConfig({}).timeouts).toEqual({ defaultMs: 900_000, maxMs: 3_600_000 });
    expect(loadWorkerConfig({ TASK_MAX_TIMEOUT_MS: '60000' }).timeouts).toEqual({
      defaultMs: 60_000,
      maxMs: 60_000,
    });
    expect(
      problemsOf(() => loadWorkerConfig({ TASK_DEFAULT_TIMEOUT_MS: '120000', TASK_MAX_TIMEOUT_MS: '60000' })),
    ).toEqual(['TASK_DEFAULT_TIMEOUT_MS="120000" is not valid: expected an integer from 100 to 60000']);
  });
});
