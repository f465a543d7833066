import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';

/** The local stack of `npm run stack:up`, the same variables as scripts/stack.sh. Loopback only. */
export const KAFKA_BROKERS = `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`;
export const REDIS_URL = `redis://127.0.0.1:${process.env.REDIS_PORT ?? '6379'}`;

/** Each run of each system gets its own queue: topics, groups and Redis keys nobody else uses. */
export function benchQueue(system: string): string {
  return `bench-${system}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `probe` returns a value, or throws after `timeoutMs`: every wait is bounded. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A kafkajs client for the bench's own admin calls (group states, throwaway topics). Silent:
 * failures throw, and kafkajs would log the retried "unknown topic" of a topic being created.
 */
export const benchKafka = () =>
  new Kafka({ clientId: 'bench', brokers: [KAFKA_BROKERS], logLevel: logLevel.NOTHING });
