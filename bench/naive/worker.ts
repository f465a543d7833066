import { Redis } from 'ioredis';
import { REDIS_URL, sleep } from '../stack';
import type { Starter } from '../systems/types';
import { naiveKafka, naiveNames } from './names';

/** The same two task types as Spillway's demo handlers. */
async function handle(type: string, payload: unknown): Promise<unknown> {
  if (type === 'sleep') {
    const ms = Number((payload as { ms?: unknown } | null)?.ms ?? 0);
    await sleep(ms);
    return { sleptMs: ms };
  }
  return payload;
}

/** The textbook consumer: `eachMessage`, one message at a time, status written with plain SETs. */
export const startNaiveWorker: Starter = async ({ queue }) => {
  const names = naiveNames(queue);
  const kafka = naiveKafka();
  const consumer = kafka.consumer({ groupId: names.group });
  const redis = new Redis(REDIS_URL);
  await consumer.connect();
  await consumer.subscribe({ topic: names.topic, fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    eachMessage: async ({ message }) => {
      const { id, type, payload } = JSON.parse(message.value?.toString() ?? '{}') as {
        id: string;
        type: string;
        payload: unknown;
      };
      await redis.set(names.statusKey(id), JSON.stringify({ status: 'running' }), 'EX', 3600);
      try {
        const result = await handle(type, payload);
        // finishedAt: when it succeeded, as Spillway's record and BullMQ's finishedOn say (e2e scenario).
        const done = { status: 'succeeded', result, finishedAt: Date.now() };
        await redis.set(names.statusKey(id), JSON.stringify(done), 'EX', 3600);
      } catch (err) {
        await redis.set(
          names.statusKey(id),
          JSON.stringify({ status: 'failed', error: String(err) }),
          'EX',
          3600,
        );
      }
    },
  });
  // Ready means ready to consume: the scenarios time from the first submission.
  await joined;
  return {
    port: 0,
    stop: async () => {
      await consumer.disconnect();
      redis.disconnect();
    },
  };
};
