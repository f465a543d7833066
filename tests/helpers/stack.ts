import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger } from '../../services/shared/logger';

/** Where the real servers of `npm run stack:up` listen (same variables as scripts/stack.sh). */
export const KAFKA_BROKERS = `${process.env.KAFKA_HOST ?? '127.0.0.1'}:${process.env.KAFKA_PORT ?? '9092'}`;
export const REDIS_URL = `redis://${process.env.REDIS_HOST ?? '127.0.0.1'}:${process.env.REDIS_PORT ?? '6379'}`;

/** Set by tests/global-setup.ts: tags the queues of one jest run, whose topics its teardown deletes. */
export const TEST_RUN_ENV = 'SPILLWAY_TEST_RUN';

/** Each test gets its own queue: its own topics, consumer group and Redis keys. */
export function uniqueQueue(): string {
  const run = process.env[TEST_RUN_ENV] ?? Date.now().toString(36);
  return `t-${run}-${randomBytes(4).toString('hex')}`;
}

export const quietLogger = createLogger(process.env.TEST_LOG_LEVEL === 'error' ? 'error' : 'silent');

export function testKafka(): Kafka {
  return new Kafka({ clientId: 'spillway-tests', brokers: [KAFKA_BROKERS], logLevel: logLevel.NOTHING });
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
}
