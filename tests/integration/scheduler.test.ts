import { randomUUID } from 'node:crypto';
import { KafkaJSError, Partitioners, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import { createKafka, prepareTopics } from '../../services/shared/kafka/client';
import { planDelay, RELEASE_AT_HEADER } from '../../services/shared/kafka/delay-tiers';
import { kafkaNames, type KafkaNames } from '../../services/shared/kafka/names';
import { createLogger } from '../../services/shared/logger';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import type { JsonValue, TaskMessage } from '../../services/shared/task';
import { encodeTaskMessage } from '../../services/shared/task-message';
import { loadWorkerConfig } from '../../services/worker/config';
import { startWorker } from '../../services/worker/main';
import { createScheduler, type Scheduler } from '../../services/worker/scheduler';
import { request } from '../helpers/http';
import { readTopic } from '../helpers/kafka';
import { eventually, KAFKA_BROKERS, quietLogger, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * The scheduler against the real broker and Redis. Timing asserts are one-sided ("not before
 * runAt") plus a loose upper bound, so a busy two-core machine does not fail them.
 */

/** How late a released task may arrive: the consumer's 500 ms fetch wait plus a busy machine. */
const LATE_MS = 1_500;

const kafkaConfig = {
  brokers: [KAFKA_BROKERS],
  clientId: 'spillway-tests',
  createTopics: true,
  taskPartitions: 2,
};

interface Harness {
  names: KafkaNames;
  kafka: Kafka;
  store: RedisTaskStore;
  counts: { released: number; redelayed: number; poison: number };
  logs: Record<string, unknown>[];
  scheduler: Scheduler;
}

const running: { stop(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

interface HarnessOptions {
  /** Puts a failing producer in between. */
  producer?: (real: Producer) => Producer;
  maxSendBatch?: number;
}

/** A scheduler on a queue of its own. */
async function startScheduler({ producer, maxSendBatch }: HarnessOptions = {}): Promise<Harness> {
  const queue = uniqueQueue();
  const names = kafkaNames(queue);
  const kafka = createKafka(kafkaConfig, quietLogger);
  await prepareTopics(kafka, kafkaConfig, names);
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  running.push({ stop: () => store.close() });
  const counts = { released: 0, redelayed: 0, poison: 0 };
  const logs: Record<string, unknown>[] = [];
  const real = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const scheduler = createScheduler({
    consumer: kafka.consumer({ groupId: names.schedulerGroup, maxWaitTimeInMs: 500 }),
    producer: producer ? producer(real) : real,
    names,
    store,
    events: {
      tasksReleased: (n) => (counts.released += n),
      tasksRedelayed: (n) => (counts.redelayed += n),
      schedulerPoisonMessage: () => counts.poison++,
    },
    logger: createLogger('debug', {}, (line) => logs.push(JSON.parse(line))),
    onConsumerLost: (error) => logs.push({ msg: 'consumer lost', error: String(error) }),
    ...(maxSendBatch !== undefined && { maxSendBatch }),
  });
  running.push(scheduler);
  await scheduler.start();
  await eventually(async () => scheduler.isReady() || undefined, 20_000, 'scheduler joined');
  return { names, kafka, store, counts, logs, scheduler };
}

function task(type: string, payload: JsonValue, runAt?: number, key?: string): TaskMessage {
  const message: TaskMessage = { id: randomUUID(), type, payload, enqueuedAt: Date.now(), maxAttempts: 1 };
  if (runAt !== undefined) message.runAt = runAt;
  if (key !== undefined) message.key = key;
  return message;
}

async function send(
  kafka: Kafka,
  topic: string,
  messages: { value: Buffer | string; key?: string; headers?: IHeaders; partition?: number }[],
) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** What the API does with a delayed task: record it scheduled, put it on the tier planDelay names. */
async function publishDelayed(h: Pick<Harness, 'kafka' | 'names' | 'store'>, delayed: TaskMessage) {
  const plan = planDelay(delayed.runAt!, Date.now(), h.names.delayTiers)!;
  await h.store.transition({
    id: delayed.id,
    type: delayed.type,
    createdAt: new Date(delayed.enqueuedAt),
    status: 'scheduled',
    attempt: 0,
    at: new Date(),
    runAt: new Date(delayed.runAt!),
  });
  await send(h.kafka, plan.topic, [
    {
      value: encodeTaskMessage(delayed),
      ...(delayed.key === undefined ? {} : { key: delayed.key }),
      headers: { [RELEASE_AT_HEADER]: String(plan.releaseAt) },
    },
  ]);
  return plan;
}

/** Where the scheduler group's committed position is in partition 0 of `topic` (-1: none yet). */
async function committed(h: Harness, topic: string): Promise<number> {
  const admin = h.kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId: h.names.schedulerGroup, topics: [topic] });
    return Number(offsets!.partitions.find((p) => p.partition === 0)!.offset);
  } finally {
    await admin.disconnect();
  }
}

async function messagesIn(h: Harness, topic: string): Promise<number> {
  const admin = h.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, { high, low }) => sum + Number(high) - Number(low), 0);
  } finally {
    await admin.disconnect();
  }
}

const idOf = (value: Buffer | null) => (JSON.parse(String(value)) as TaskMessage).id;
const tier = (h: Harness, delayMs: number) => h.names.delayTiers.find((t) => t.delayMs === delayMs)!.topic;

describe('scheduler against real Kafka and Redis', () => {
  it('releases a task 1.5 s ahead to the tasks topic at its runAt, and records it queued', async () => {
    const h = await startScheduler();
    const runAt = Date.now() + 1_500;
    const delayed = task('echo', { n: 1 }, runAt, 'customer-1');
    await publishDelayed(h, delayed);
    expect((await h.store.get(delayed.id))?.status).toBe('scheduled');

    const [arrived] = await readTopic(h.names.tasksTopic, 1);
    expect(idOf(arrived!.value)).toBe(delayed.id);
    expect(arrived!.key?.toString()).toBe('customer-1');
    expect(JSON.parse(String(arrived!.value))).toEqual(delayed);
    expect(arrived!.headers?.[RELEASE_AT_HEADER]).toBeUndefined();
    expect(Number(arrived!.timestamp)).toBeGreaterThanOrEqual(runAt);
    expect(Number(arrived!.timestamp)).toBeLessThanOrEqual(runAt + LATE_MS);
    await eventually(async () => ((await h.store.get(delayed.id))?.status === 'queued' ? true : undefined));
    expect(h.counts.released).toBe(1);
  });

  it('hops a task 15 s ahead through the 10 s tier, then the 1 s tier, to the tasks topic', async () => {
    const h = await startScheduler();
    const runAt = Date.now() + 15_000;
    const delayed = task('echo', null, runAt);
    const plan = await publishDelayed(h, delayed);
    expect(plan.topic).toBe(tier(h, 10_000));

    const [hop] = await readTopic(tier(h, 1_000), 1, 20_000);
    expect(idOf(hop!.value)).toBe(delayed.id);
    expect(Number(hop!.timestamp)).toBeGreaterThanOrEqual(plan.releaseAt);
    expect(Number(hop!.headers![RELEASE_AT_HEADER]!.toString())).toBeLessThanOrEqual(runAt);

    const [arrived] = await readTopic(h.names.tasksTopic, 1, 20_000);
    expect(idOf(arrived!.value)).toBe(delayed.id);
    expect(Number(arrived!.timestamp)).toBeGreaterThanOrEqual(runAt);
    expect(Number(arrived!.timestamp)).toBeLessThanOrEqual(runAt + LATE_MS);
    // Counted once the send was acknowledged, which a fast reader may see a moment before.
    await eventually(async () => (h.counts.released === 1 ? true : undefined));
    expect(h.counts.redelayed).toBeGreaterThanOrEqual(1);
  }, 40_000);

  it('pauses behind a task not due yet, commits nothing past it, then releases it and those behind in order', async () => {
    const h = await startScheduler();
    const topic = tier(h, 10_000);
    const now = Date.now();
    const releaseHead = now + 5_000;
    // Partition order, not due order: the ones behind the head are due first but must wait for it.
    const due = task('echo', 'due now', now - 1, 'same');
    const head = task('echo', 'head', releaseHead, 'same');
    const behind = [task('echo', 'b', now + 1_000, 'same'), task('echo', 'c', now + 1_000, 'same')];
    const at = (releaseAt: number) => ({ [RELEASE_AT_HEADER]: String(releaseAt) });
    await send(h.kafka, topic, [
      { partition: 0, key: 'same', value: encodeTaskMessage(due), headers: at(now) },
      { partition: 0, key: 'same', value: encodeTaskMessage(head), headers: at(releaseHead) },
      ...behind.map((t) => ({
        partition: 0,
        key: 'same',
        value: encodeTaskMessage(t),
        headers: at(t.runAt!),
      })),
    ]);

    // The due message is out and committed; the head (offset 1) is neither.
    await eventually(
      async () => ((await committed(h, topic)) === 1 ? true : undefined),
      4_000,
      'commit of 1',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await messagesIn(h, h.names.tasksTopic)).toBe(1);
    expect(await committed(h, topic)).toBe(1);
    expect(Date.now()).toBeLessThan(releaseHead); // else the checks above saw nothing pending
    expect(h.logs).toContainEqual(
      expect.objectContaining({ msg: 'delay tier partition paused', topic, partition: 0, offset: '1' }),
    );

    // Resumed, the partition delivers the head again, and everything behind it follows in order.
    const arrived = await readTopic(h.names.tasksTopic, 4, 20_000);
    expect(arrived.map((m) => idOf(m.value))).toEqual([due, head, ...behind].map((t) => t.id));
    for (const message of arrived.slice(1))
      expect(Number(message.timestamp)).toBeGreaterThanOrEqual(releaseHead);
    await eventually(
      async () => ((await committed(h, topic)) === 4 ? true : undefined),
      10_000,
      'commit of 4',
    );
  });

  it('sends a long run of due messages in several requests, in order', async () => {
    let sends = 0;
    const h = await startScheduler({
      maxSendBatch: 2,
      producer: (real) => ({ ...real, sendBatch: (batch) => (sends++, real.sendBatch(batch)) }),
    });
    const topic = tier(h, 1_000);
    const tasks = Array.from({ length: 5 }, (_, i) => task('echo', i, Date.now() - 1, 'run'));
    const header = { [RELEASE_AT_HEADER]: String(Date.now()) };
    await send(
      h.kafka,
      topic,
      tasks.map((t) => ({ partition: 0, key: 'run', value: encodeTaskMessage(t), headers: header })),
    );

    const arrived = await readTopic(h.names.tasksTopic, 5);
    expect(arrived.map((m) => idOf(m.value))).toEqual(tasks.map((t) => t.id));
    await eventually(
      async () => ((await committed(h, topic)) === 5 ? true : undefined),
      10_000,
      'commit of 5',
    );
    expect(h.counts.released).toBe(5);
    expect(sends).toBeGreaterThanOrEqual(3);
  });

  it('skips poison messages on a tier and releases the task behind them', async () => {
    const h = await startScheduler();
    const topic = tier(h, 1_000);
    const good = task('echo', 'good', Date.now() - 1);
    const valid = { [RELEASE_AT_HEADER]: String(Date.now()) };
    await send(h.kafka, topic, [
      { partition: 0, value: 'not json', headers: valid },
      { partition: 0, value: encodeTaskMessage(task('echo', 'no header')) },
      {
        partition: 0,
        value: encodeTaskMessage(task('echo', 'bad header')),
        headers: { [RELEASE_AT_HEADER]: 'soon' },
      },
      { partition: 0, value: encodeTaskMessage(good), headers: valid },
    ]);

    const [arrived] = await readTopic(h.names.tasksTopic, 1);
    expect(idOf(arrived!.value)).toBe(good.id);
    await eventually(
      async () => ((await committed(h, topic)) === 4 ? true : undefined),
      10_000,
      'commit of 4',
    );
    expect(await messagesIn(h, h.names.tasksTopic)).toBe(1);
    expect(h.counts).toEqual({ released: 1, redelayed: 0, poison: 3 });
  });

  it('commits nothing while the producer fails, and releases the task once it works again', async () => {
    let failing = true;
    let attempts = 0;
    const h = await startScheduler({
      producer: (real) => ({
        ...real,
        sendBatch: async (batch) => {
          attempts++;
          if (failing) throw new KafkaJSError('injected send failure', { retriable: true });
          return real.sendBatch(batch);
        },
      }),
    });
    const topic = tier(h, 1_000);
    const delayed = task('echo', 'survives', Date.now() - 1);
    await send(h.kafka, topic, [
      {
        partition: 0,
        value: encodeTaskMessage(delayed),
        headers: { [RELEASE_AT_HEADER]: String(Date.now()) },
      },
    ]);

    await eventually(async () => (attempts >= 2 ? true : undefined), 10_000, 'retried sends');
    expect(await committed(h, topic)).toBeLessThanOrEqual(0);
    failing = false;

    const [arrived] = await readTopic(h.names.tasksTopic, 1, 30_000);
    expect(idOf(arrived!.value)).toBe(delayed.id);
    await eventually(
      async () => ((await committed(h, topic)) === 1 ? true : undefined),
      20_000,
      'commit of 1',
    );
    expect(await messagesIn(h, h.names.tasksTopic)).toBe(1);
  }, 60_000);

  it('with startWorker, runs a delayed echo task to succeeded, not before its runAt', async () => {
    const queue = uniqueQueue();
    const config = loadWorkerConfig({ PORT: '0', SPILLWAY_QUEUE: queue, KAFKA_BROKERS, REDIS_URL });
    const worker = await startWorker(config, quietLogger);
    running.push(worker);
    const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
    running.push({ stop: () => store.close() });
    const base = `http://127.0.0.1:${worker.port}`;
    await eventually(async () => ((await request(base, 'GET', '/readyz')).status === 200 ? true : undefined));

    const runAt = Date.now() + 2_000;
    const delayed = task('echo', { later: true }, runAt);
    await publishDelayed(
      { kafka: createKafka(kafkaConfig, quietLogger), names: kafkaNames(queue), store },
      delayed,
    );

    const record = await eventually(async () => {
      const found = await store.get(delayed.id);
      return found?.status === 'succeeded' ? found : undefined;
    }, 20_000);
    expect(record.result).toEqual({ later: true });
    expect(record.startedAt!.getTime()).toBeGreaterThanOrEqual(runAt);
    await eventually(async () => {
      const metrics = (await request(base, 'GET', '/metrics')).body as string;
      return metrics.includes('spillway_scheduler_released_total 1') ? true : undefined;
    });
  });
});
