import { randomUUID } from 'node:crypto';
import { BatchingPublisher } from '../../services/shared/kafka/batching-publisher';
import { ensureTopics } from '../../services/shared/kafka/client';
import { allTopics, kafkaNames } from '../../services/shared/kafka/names';
import { KafkaRefusedError } from '../../services/shared/kafka/refusals';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { request } from '../helpers/http';
import { committedToEnd, readTopicUntil } from '../helpers/kafka';
import { apiFor, handlersWith, workerFor } from '../helpers/services';
import { eventually, REDIS_URL, testKafka, uniqueQueue } from '../helpers/stack';
import { finished, publishTasks, taskMessage } from '../helpers/tasks';

/**
 * Kafka's final answers (here: a message over a topic's max.message.bytes) are not outages: the
 * send at fault is refused at once, its neighbours go through, and a task whose retry or dead
 * letter Kafka refuses fails for good instead of holding its partition forever.
 */

/** Creates `topics` with max.message.bytes = `limit`, as an operator's own topic config would. */
async function topicsWithLimit(topics: string[], limit: number, numPartitions = 1): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({
      // kafkajs' own wait gives up on a broker still creating the topic; ensureTopics waits instead.
      waitForLeaders: false,
      topics: topics.map((topic) => ({
        topic,
        numPartitions,
        configEntries: [{ name: 'max.message.bytes', value: String(limit) }],
      })),
    });
    await ensureTopics(admin, topics, numPartitions);
  } finally {
    await admin.disconnect();
  }
}

const bytes = (n: number) => Buffer.alloc(n, 'x');

describe('the publisher, on a topic that takes 20,000-byte messages', () => {
  const topic = `test-refusals-${randomUUID()}`;
  const options = {
    lingerMs: 20,
    maxBatchMessages: 100,
    maxBatchBytes: 1 << 20,
    timeoutMs: 10_000,
    maxPendingMessages: 100,
  };
  beforeAll(() => topicsWithLimit([topic], 20_000));

  it('refuses only the message Kafka refused; the ones batched with it land, once', async () => {
    const publisher = new BatchingPublisher(testKafka(), options);
    await publisher.connect();
    try {
      const [small, huge, other] = await Promise.allSettled([
        publisher.publish([{ topic, key: 'a', value: bytes(100) }]),
        publisher.publish([{ topic, key: 'b', value: bytes(30_000) }]),
        publisher.publish([{ topic, key: 'c', value: bytes(100) }]),
      ]);
      expect(small.status).toBe('fulfilled');
      expect(other.status).toBe('fulfilled');
      expect(huge.status).toBe('rejected');
      const refusal = (huge as PromiseRejectedResult).reason;
      expect(refusal).toBeInstanceOf(KafkaRefusedError);
      expect(refusal.kafkaType).toBe('MESSAGE_TOO_LARGE');
      // Not an outage: the next send goes through.
      await publisher.publish([{ topic, key: 'd', value: bytes(100) }]);
      const landed = await readTopicUntil(topic, (m) => m.length >= 3, 10_000);
      expect(landed.map((m) => m.key?.toString()).sort()).toEqual(['a', 'c', 'd']);
    } finally {
      await publisher.disconnect();
    }
  }, 30_000);

  it('refuses a message over maxMessageBytes before sending it', async () => {
    const publisher = new BatchingPublisher(testKafka(), { ...options, maxMessageBytes: 20_000 });
    await publisher.connect();
    try {
      const started = Date.now();
      await expect(publisher.publish([{ topic, value: bytes(20_001) }])).rejects.toThrow(
        `the message is 20001 bytes; ${topic} takes at most 20000`,
      );
      expect(Date.now() - started).toBeLessThan(100);
    } finally {
      await publisher.disconnect();
    }
  });
});

describe('the API, on a queue whose topics take 200,000-byte messages', () => {
  const queue = uniqueQueue();
  // The API keeps 64 KiB of every message for what retries add: tasks up to 134,464 bytes.
  beforeAll(() => topicsWithLimit(allTopics(kafkaNames(queue)), 200_000, 3));

  it('refuses with 413 a task its retries could not carry, naming the field', async () => {
    const api = await apiFor(queue);
    try {
      const fits = await request(api.url, 'POST', '/v1/tasks', {
        json: { type: 'echo', payload: 'x'.repeat(130_000) },
      });
      expect(fits.status).toBe(202);
      const tooLarge = await request(api.url, 'POST', '/v1/tasks', {
        json: { type: 'echo', payload: 'x'.repeat(140_000) },
      });
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.body.error.code).toBe('payload_too_large');
      expect(tooLarge.body.error.details).toEqual([
        { field: 'payload', message: "at most 134464 bytes with the task's other fields" },
      ]);
      const batch = await request(api.url, 'POST', '/v1/tasks/batch', {
        json: { tasks: [{ type: 'echo' }, { type: 'echo', payload: 'x'.repeat(140_000) }] },
      });
      expect(batch.status).toBe(413);
      expect(batch.body.error.details[0].field).toBe('tasks[1].payload');
    } finally {
      await api.stop();
    }
  }, 30_000);

  it('will not start on topics too small to hold a task and its retries', async () => {
    const small = uniqueQueue();
    await topicsWithLimit(allTopics(kafkaNames(small)), 100_000, 3);
    await expect(apiFor(small)).rejects.toThrow(
      /at most 100000 bytes \(max.message.bytes\); Spillway needs 131072/,
    );
  }, 30_000);
});

describe('a worker whose retry and dead letter Kafka refuses', () => {
  it('fails the task for good, keeps its dead letter in Redis, and moves on', async () => {
    const queue = uniqueQueue();
    const names = kafkaNames(queue);
    // The tasks topic takes the task; the delay tiers and the dead-letter topic are 140,000 bytes,
    // which the task plus its first failure no longer fits.
    await topicsWithLimit([names.tasksTopic], 1_048_588, 1);
    await topicsWithLimit([...names.delayTiers.map((t) => t.topic), names.deadLetterTopic], 140_000, 3);
    let runs = 0;
    const worker = await workerFor(
      queue,
      {},
      handlersWith({
        'always.fails': async () => {
          runs++;
          throw new Error('upstream said no');
        },
      }),
    );
    const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
    const deadLetters = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
    try {
      const task = taskMessage('always.fails', 'x'.repeat(139_900), { maxAttempts: 5 });
      const after = taskMessage('echo', { next: true });
      await publishTasks(names.tasksTopic, [task, after]);

      const record = await finished(store, task.id);
      expect(record).toMatchObject({ status: 'failed', attempts: 1 });
      expect(record.error).toEqual({
        name: 'KafkaRefusedError',
        message: expect.stringContaining('MESSAGE_TOO_LARGE'),
      });
      expect(record.history).toEqual([
        expect.objectContaining({ attempt: 1, error: { name: 'Error', message: 'upstream said no' } }),
      ]);
      expect(runs).toBe(1);
      const letter = await eventually(() => deadLetters.get(task.id), 10_000, 'the dead letter in Redis');
      expect(letter).toMatchObject({ reason: 'non-retriable', error: { name: 'KafkaRefusedError' } });
      expect((await finished(store, after.id)).status).toBe('succeeded');
      // Nothing held the partitions: every offset is committed.
      await committedToEnd(names.workerGroup, names.tasksTopic, 20_000);
    } finally {
      await worker.stop();
      await Promise.all([store.close(), deadLetters.close()]);
    }
  }, 60_000);
});
