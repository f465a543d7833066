import { randomUUID } from 'node:crypto';
import { createKafka, prepareTopics } from '../../services/shared/kafka/client';
import { kafkaNames } from '../../services/shared/kafka/names';
import type { TaskMessage } from '../../services/shared/task';
import { encodeTaskMessage } from '../../services/shared/task-message';
import { loadWorkerConfig } from '../../services/worker/config';
import { WorkerMetrics } from '../../services/worker/metrics';
import { createLogger } from '../../services/shared/logger';
import { sharedCapacity } from '../../services/worker/lanes';
import { DEFAULT_LANE_WEIGHTS } from '../../services/shared/lanes/priority';
import { createWorker, keyBacklogLimit, type Worker, type WorkerDeps } from '../../services/worker/worker';
import { committedTo, produce } from '../helpers/kafka';
import { eventually, KAFKA_BROKERS, quietLogger, REDIS_URL, uniqueQueue } from '../helpers/stack';

const message = (id: string, partition: number, key = id) => {
  const task: TaskMessage = { id, type: 'echo', payload: null, enqueuedAt: Date.now(), maxAttempts: 1 };
  return { value: encodeTaskMessage(task), key, partition };
};

/**
 * The worker's intake against a real broker and consumer group, with `run` standing in for
 * TaskRunner: it records what runs when, and finishes after `ms` (or when the test says).
 */
describe('worker intake: one key or one long task cannot take the whole worker', () => {
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop(5000);
    worker = undefined;
  });

  async function start(run: WorkerDeps['run'], extra: Partial<WorkerDeps> = {}) {
    const queue = uniqueQueue();
    const config = loadWorkerConfig({ SPILLWAY_QUEUE: queue, KAFKA_BROKERS, REDIS_URL });
    const names = kafkaNames(queue);
    const client = createKafka(config.kafka, quietLogger);
    await prepareTopics(client, config.kafka, names);
    worker = createWorker({
      // The worker's own fetch wait (main.ts): a resumed partition is fetched up to one wait later.
      consumer: client.consumer({ groupId: names.workerGroup, maxWaitTimeInMs: 1000 }),
      lane: { name: 'normal', topic: names.tasksTopic },
      capacity: sharedCapacity(16, DEFAULT_LANE_WEIGHTS),
      commitIntervalMs: 200,
      run,
      deadLetterPoison: async () => undefined,
      events: new WorkerMetrics(),
      logger: quietLogger,
      onConsumerLost: () => undefined,
      ...extra,
    });
    return { names, worker };
  }

  it('runs unkeyed tasks of other partitions at full concurrency behind a backlog of one key', async () => {
    // 40 tasks of one key on partition 0, 48 unkeyed on partitions 1 to 5, all 300 ms.
    const hot: string[] = Array.from({ length: 40 }, () => randomUUID());
    const others = Array.from({ length: 48 }, () => randomUUID());
    const order: string[] = [];
    let running = 0;
    let mostRunning = 0;
    let unkeyedRunning = 0;
    let mostUnkeyed = 0;
    let mostHot = 0;
    const hotStarts: number[] = [];
    let hotRunning = 0;
    const logged: { msg: string; key?: string }[] = [];
    const logger = createLogger('debug', {}, (line) => logged.push(JSON.parse(line)));
    const { names, worker: w } = await start(
      async (task, handlerDone) => {
        const isHot = hot.includes(task.id);
        mostRunning = Math.max(mostRunning, ++running);
        if (isHot) {
          order.push(task.id);
          hotStarts.push(Date.now());
          mostHot = Math.max(mostHot, ++hotRunning);
        } else mostUnkeyed = Math.max(mostUnkeyed, ++unkeyedRunning);
        await new Promise((resolve) => setTimeout(resolve, 300));
        running--;
        if (isHot) hotRunning--;
        else unkeyedRunning--;
        handlerDone();
      },
      { logger },
    );
    // The hot key first, so its partition is fetched and dispatched before the others arrive.
    await produce(
      names.tasksTopic,
      hot.map((id) => message(id, 0, 'one-hot-key')),
    );
    await produce(
      names.tasksTopic,
      others.map((id, i) => message(id, 1 + (i % 5))),
    );
    await w.start();
    await eventually(
      async () => (order.length === hot.length && running === 0 ? true : undefined),
      60_000,
      'every task ran',
    );

    // One of the key at a time, in order; meanwhile the others had the remaining slots (all 16
    // while the key's next task waits for one: a lane holds no slot between its tasks).
    expect(mostHot).toBe(1);
    expect(order).toEqual(hot);
    expect(mostUnkeyed).toBeGreaterThanOrEqual(15);
    expect(mostRunning).toBe(16);
    // The key's backlog stopped at its limit, and its partition waited in Kafka meanwhile.
    expect(logged).toContainEqual(
      expect.objectContaining({ msg: 'partition paused until it drains', key: 'one-hot-key' }),
    );
    expect(keyBacklogLimit(16)).toBeLessThan(hot.length);
    // Pausing costs the key little: its partition is fetched again while its backlog still runs,
    // so no gap between two of its tasks is much over one task's 300 ms.
    const gaps = hotStarts.slice(1).map((at, i) => at - (hotStarts[i] ?? at));
    expect(Math.max(...gaps)).toBeLessThan(600);
    await committedTo(names.workerGroup, names.tasksTopic, 0, hot.length);
  }, 90_000);

  it('pauses a partition whose window reaches its limit behind a long task, and resumes it after', async () => {
    const ids = Array.from({ length: 60 }, () => randomUUID());
    const started: string[] = [];
    let releaseLong: () => void = () => undefined;
    const long = new Promise<void>((resolve) => (releaseLong = resolve));
    const { names, worker: w } = await start(
      async (task, handlerDone) => {
        started.push(task.id);
        if (task.id === ids[0]) await long;
        handlerDone();
      },
      { windowLimit: 20 },
    );
    await produce(
      names.tasksTopic,
      ids.map((id) => message(id, 0)),
    );
    await w.start();
    try {
      await eventually(async () => (started.length === 20 ? true : undefined), 30_000, 'the window filled');
      // The first task holds the window open: nothing past its limit is taken.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(started).toEqual(ids.slice(0, 20));
    } finally {
      releaseLong();
    }
    await eventually(async () => (started.length === ids.length ? true : undefined), 30_000, 'the rest ran');
    await committedTo(names.workerGroup, names.tasksTopic, 0, ids.length);
  }, 90_000);
});
