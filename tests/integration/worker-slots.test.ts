import { randomUUID } from 'node:crypto';
import { createKafka, prepareTopics } from '../../services/shared/kafka/client';
import { kafkaNames } from '../../services/shared/kafka/names';
import { encodeTaskMessage } from '../../services/shared/task-message';
import type { TaskMessage } from '../../services/shared/task';
import { loadWorkerConfig } from '../../services/worker/config';
import { WorkerMetrics } from '../../services/worker/metrics';
import { sharedCapacity } from '../../services/worker/lanes';
import { DEFAULT_LANE_WEIGHTS } from '../../services/shared/lanes/priority';
import { createWorker, type Worker } from '../../services/worker/worker';
import { committedTo, produce } from '../helpers/kafka';
import { eventually, KAFKA_BROKERS, quietLogger, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * The worker's slots against a real broker and consumer group. `run` stands in for TaskRunner:
 * its "handler" part ends at once (it calls handlerDone) and its "outcome write" waits for the
 * test to let it through, the way a slow Redis would hold it.
 */
describe('worker slots: a task frees its slot once its handler is done', () => {
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop(5000);
    worker = undefined;
  });

  async function startWithHeldWrites(concurrency: number, tasks: number) {
    const queue = uniqueQueue();
    const config = loadWorkerConfig({ SPILLWAY_QUEUE: queue, KAFKA_BROKERS, REDIS_URL });
    const names = kafkaNames(queue);
    const client = createKafka(config.kafka, quietLogger);
    await prepareTopics(client, config.kafka, names);
    const started: string[] = [];
    const heldWrites = new Map<string, () => void>();
    worker = createWorker({
      consumer: client.consumer({ groupId: names.workerGroup }),
      lane: { name: 'normal', topic: names.tasksTopic },
      capacity: sharedCapacity(concurrency, DEFAULT_LANE_WEIGHTS),
      commitIntervalMs: 200,
      async run(task, handlerDone) {
        started.push(task.id);
        handlerDone();
        await new Promise<void>((resolve) => heldWrites.set(task.id, resolve));
      },
      deadLetterPoison: async () => undefined,
      events: new WorkerMetrics(),
      logger: quietLogger,
      onConsumerLost: () => undefined,
    });
    const ids = Array.from({ length: tasks }, () => randomUUID());
    // All on one partition, so they are taken in this order.
    await produce(
      names.tasksTopic,
      ids.map((id) => {
        const task: TaskMessage = { id, type: 'echo', payload: null, enqueuedAt: Date.now(), maxAttempts: 1 };
        return { value: encodeTaskMessage(task), key: id, partition: 0 };
      }),
    );
    await worker.start();
    const release = (id: string) => heldWrites.get(id)!();
    return { ids, started, heldWrites, release, names, worker };
  }

  it('starts the next task while the outcome of the last one is still being written', async () => {
    const { ids, started, release, names } = await startWithHeldWrites(1, 2);
    // Concurrency 1, and the first task's write never finished: the second started anyway.
    await eventually(async () => (started.length === 2 ? true : undefined), 30_000, 'both tasks started');
    expect(started).toEqual(ids);
    ids.forEach(release);
    await committedTo(names.workerGroup, names.tasksTopic, 0, ids.length, 15_000);
  });

  it('holds at most twice its concurrency in tasks taken and not done with', async () => {
    const { ids, started, release, names } = await startWithHeldWrites(2, 6);
    await eventually(async () => (started.length === 4 ? true : undefined), 30_000, 'four tasks started');
    // Every slot is free (handlers done), but four outcomes are pending: nothing more is taken.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(started).toEqual(ids.slice(0, 4));
    release(ids[0]!);
    await eventually(async () => (started.length === 5 ? true : undefined), 10_000, 'a fifth task started');
    ids.slice(1, 5).forEach(release);
    await eventually(async () => (started.length === 6 ? true : undefined), 10_000, 'every task started');
    release(ids[5]!);
    await committedTo(names.workerGroup, names.tasksTopic, 0, ids.length, 15_000);
  });

  it('waits on stop for outcomes still being written, and commits them', async () => {
    const { ids, started, release, names, worker: running } = await startWithHeldWrites(1, 1);
    await eventually(async () => (started.length === 1 ? true : undefined), 30_000, 'the task started');
    let stopped = false;
    const stopping = running.stop(10_000).then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stopped).toBe(false);
    release(ids[0]!);
    await stopping;
    worker = undefined;
    await committedTo(names.workerGroup, names.tasksTopic, 0, ids.length, 15_000);
  });

  it('takes a slot again before running a task a second time after an unexpected failure', async () => {
    const queue = uniqueQueue();
    const config = loadWorkerConfig({ SPILLWAY_QUEUE: queue, KAFKA_BROKERS, REDIS_URL });
    const names = kafkaNames(queue);
    const client = createKafka(config.kafka, quietLogger);
    await prepareTopics(client, config.kafka, names);
    const [failsOnce, holds] = [randomUUID(), randomUUID()];
    const runs: string[] = [];
    let running = 0;
    let mostRunning = 0;
    let releaseHeld: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (releaseHeld = resolve));
    worker = createWorker({
      consumer: client.consumer({ groupId: names.workerGroup }),
      lane: { name: 'normal', topic: names.tasksTopic },
      capacity: sharedCapacity(1, DEFAULT_LANE_WEIGHTS),
      commitIntervalMs: 200,
      async run(task, handlerDone) {
        runs.push(task.id);
        mostRunning = Math.max(mostRunning, ++running);
        if (task.id === holds) await held;
        running--;
        handlerDone();
        // The handler finished, then writing its outcome failed in a way no retry covers.
        if (task.id === failsOnce && runs.filter((id) => id === failsOnce).length === 1) {
          throw new Error('unexpected failure after the handler');
        }
      },
      deadLetterPoison: async () => undefined,
      events: new WorkerMetrics(),
      logger: quietLogger,
      onConsumerLost: () => undefined,
    });
    await produce(
      names.tasksTopic,
      [failsOnce, holds].map((id) => {
        const task: TaskMessage = { id, type: 'echo', payload: null, enqueuedAt: Date.now(), maxAttempts: 1 };
        return { value: encodeTaskMessage(task), key: id, partition: 0 };
      }),
    );
    await worker.start();
    try {
      await eventually(async () => (runs.length === 2 ? true : undefined), 30_000, 'both tasks started');
      // The rerun is due 5 s after the failure, while the second task still holds the only slot.
      await new Promise((resolve) => setTimeout(resolve, 6000));
      expect(runs).toEqual([failsOnce, holds]);
    } finally {
      releaseHeld(); // even when failing: stop() waits for the held task
    }
    await eventually(async () => (runs.length === 3 ? true : undefined), 10_000, 'the rerun');
    expect(runs).toEqual([failsOnce, holds, failsOnce]);
    expect(mostRunning).toBe(1);
    await committedTo(names.workerGroup, names.tasksTopic, 0, 2, 15_000);
  });
});
