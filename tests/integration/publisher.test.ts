import { BatchingPublisher, type BatchingOptions } from '../../services/shared/kafka/batching-publisher';
import { createKafka, ensureTopics } from '../../services/shared/kafka/client';
import { UnavailableError } from '../../services/shared/errors';
import { readTopic } from '../helpers/kafka';
import { KAFKA_BROKERS, quietLogger, testKafka, uniqueQueue } from '../helpers/stack';

const KAFKA_CLIENT = {
  brokers: [KAFKA_BROKERS],
  clientId: 'test',
  createTopics: true,
  taskPartitions: 3,
  ssl: false,
};

const options: BatchingOptions = {
  lingerMs: 2,
  maxBatchMessages: 2000,
  maxBatchBytes: 900 * 1024,
  timeoutMs: 5000,
  maxPendingMessages: 100_000,
};

describe('BatchingPublisher against a real broker', () => {
  const topic = `${uniqueQueue()}.publisher`;
  const batches: number[] = [];
  let publisher: BatchingPublisher;

  beforeAll(async () => {
    const admin = testKafka().admin();
    await admin.connect();
    await ensureTopics(admin, [topic], 3);
    await admin.disconnect();
    const kafka = createKafka(KAFKA_CLIENT, quietLogger);
    publisher = new BatchingPublisher(kafka, options, { batchSent: (n) => batches.push(n) });
    await publisher.connect();
  });
  afterAll(() => publisher.disconnect());

  it('coalesces concurrent publishes into few Kafka requests, and every message lands', async () => {
    const values = Array.from({ length: 500 }, (_, i) => `m-${i}`);
    await Promise.all(
      values.map((v, i) => publisher.publish([{ topic, value: Buffer.from(v), key: `k${i % 7}` }])),
    );
    expect(batches.reduce((a, b) => a + b, 0)).toBe(500);
    // One request per message would be 500; coalescing must do far better.
    expect(batches.length).toBeLessThan(50);
    const landed = await readTopic(topic, 500);
    expect(new Set(landed.map((m) => m.value!.toString()))).toEqual(new Set(values));
  });

  it('keeps a multi-message publish together and routes by topic', async () => {
    const before = batches.length;
    await publisher.publish([
      { topic, value: Buffer.from('a') },
      { topic, value: Buffer.from('b'), headers: { h: '1' } },
    ]);
    expect(batches.slice(before)).toEqual([2]);
  });

  it('refuses at once when too much is waiting (bounded memory)', async () => {
    const kafka = createKafka(KAFKA_CLIENT, quietLogger);
    const small = new BatchingPublisher(kafka, { ...options, maxPendingMessages: 5, lingerMs: 50 });
    await small.connect();
    try {
      const first = small.publish(Array.from({ length: 5 }, () => ({ topic, value: Buffer.from('x') })));
      await expect(small.publish([{ topic, value: Buffer.from('y') }])).rejects.toBeInstanceOf(
        UnavailableError,
      );
      await first;
    } finally {
      await small.disconnect();
    }
  });

  it('refuses at once when too many bytes are waiting, but never a publish alone', async () => {
    const kafka = createKafka(KAFKA_CLIENT, quietLogger);
    const small = new BatchingPublisher(kafka, { ...options, maxPendingBytes: 1000, lingerMs: 50 });
    await small.connect();
    try {
      const first = small.publish([{ topic, value: Buffer.alloc(600) }]);
      const refused = small.publish([{ topic, value: Buffer.alloc(600) }]);
      await expect(refused).rejects.toBeInstanceOf(UnavailableError);
      await expect(refused).rejects.toThrow('too many bytes are waiting for Kafka; slow down');
      await first;
      // Nothing waits now: even a publish over the limit on its own goes.
      await small.publish([{ topic, value: Buffer.alloc(1500) }]);
    } finally {
      await small.disconnect();
    }
  });

  it('sends what is pending before disconnecting, then refuses new work', async () => {
    const kafka = createKafka(KAFKA_CLIENT, quietLogger);
    const closing = new BatchingPublisher(kafka, { ...options, lingerMs: 200 });
    await closing.connect();
    const pending = Promise.all(
      Array.from({ length: 20 }, () => closing.publish([{ topic, value: Buffer.from('z') }])),
    );
    await closing.disconnect();
    await expect(pending).resolves.toHaveLength(20);
    await expect(closing.publish([{ topic, value: Buffer.from('late') }])).rejects.toThrow('shutting down');
  });
});
