import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeadLetter } from '../../services/shared/dead-letter';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import type { JsonValue } from '../../services/shared/task';
import { freePort, PrivateRedis } from '../helpers/redis-server';
import { uniqueQueue } from '../helpers/stack';

/**
 * What one record costs in Redis, measured on a private redis-server (nothing else writes to it),
 * and checked against the table docs/operations.md sizes Redis with: each documented figure must
 * be within 25% of what is measured here.
 */

const RECORDS = 2000;
const SIZING_DOC = join(__dirname, '..', '..', 'docs', 'operations.md');

/** The documented bytes per record of the sizing table's row starting with `label`. */
function documented(label: string): number {
  const row = readFileSync(SIZING_DOC, 'utf8')
    .split('\n')
    .find((line) => line.startsWith(`| ${label}`));
  const bytes = row?.split('|')[2]?.replace(/[^0-9]/g, '');
  if (!bytes) throw new Error(`docs/operations.md has no sizing row "${label}"`);
  return Number(bytes);
}

const payloadOf = (bytes: number): JsonValue => ({ data: 'x'.repeat(bytes - 11) });

describe('bytes per record in Redis, as docs/operations.md sizes it', () => {
  let server: PrivateRedis;
  let raw: Redis;
  const queue = uniqueQueue();

  beforeAll(async () => {
    server = new PrivateRedis(await freePort());
    await server.start();
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    raw.disconnect();
    await server.stop();
  });

  async function usedMemory(): Promise<number> {
    return Number(/^used_memory:(\d+)/m.exec(await raw.info('memory'))![1]);
  }

  /** Bytes per record that `write` adds, over RECORDS records. */
  async function perRecord(write: (i: number) => Promise<void>): Promise<number> {
    const before = await usedMemory();
    for (let i = 0; i < RECORDS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => write(i + j)));
    }
    return Math.round(((await usedMemory()) - before) / RECORDS);
  }

  it.each([
    ['finished task, 100-byte payload and result', 100, true],
    ['finished task, 1 KiB payload and result', 1024, true],
    ['finished task, 10 KiB payload and result', 10 * 1024, true],
    ['finished task, 100-byte payload and result, TASK_INDEXES=false', 100, false],
  ])('%s', async (label, bytes, indexing) => {
    const store = new RedisTaskStore({ url: server.url, queue, ttlSeconds: 3600, indexing });
    try {
      // As the services write it: queued by the API (with what was submitted), running and
      // succeeded by a worker; with the listing's index entries unless TASK_INDEXES is off.
      const measured = await perRecord(async () => {
        const id = randomUUID();
        const base = { id, type: 'email.send', createdAt: new Date() };
        const spec = { payload: payloadOf(bytes), maxAttempts: 3 };
        await store.transition({ ...base, status: 'queued', attempt: 0, at: new Date(), spec });
        await store.transition({ ...base, status: 'running', attempt: 1, at: new Date() });
        await store.transition({
          ...base,
          status: 'succeeded',
          attempt: 1,
          at: new Date(),
          result: payloadOf(bytes),
        });
      });
      console.log(`${label}: ${measured} bytes per record`);
      expect(Math.abs(measured - documented(label)) / measured).toBeLessThanOrEqual(0.25);
    } finally {
      await store.close();
    }
  });

  it('dead letter, 1 KiB payload, 3 attempts', async () => {
    const label = 'dead letter, 1 KiB payload, 3 attempts';
    const store = new RedisDeadLetterStore({ url: server.url, queue, ttlSeconds: 3600 });
    const error = { name: 'Error', message: 'connect ECONNREFUSED 10.0.0.7:443' };
    try {
      const measured = await perRecord(async () => {
        const id = randomUUID();
        const letter: DeadLetter = {
          id,
          reason: 'attempts-exhausted',
          deadAt: Date.now(),
          task: { id, type: 'email.send', payload: payloadOf(1024), enqueuedAt: Date.now(), maxAttempts: 3 },
          error,
          history: [1, 2, 3].map((attempt) => ({
            attempt,
            startedAt: Date.now(),
            finishedAt: Date.now(),
            error,
          })),
        };
        await store.add(letter);
      });
      console.log(`${label}: ${measured} bytes per record`);
      expect(Math.abs(measured - documented(label)) / measured).toBeLessThanOrEqual(0.25);
    } finally {
      await store.close();
    }
  });
});
