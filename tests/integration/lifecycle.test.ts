import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createKafka, prepareTopics } from '../../services/shared/kafka/client';
import { kafkaNames } from '../../services/shared/kafka/names';
import { createLogger } from '../../services/shared/logger';
import { loadWorkerConfig } from '../../services/worker/config';
import { WorkerMetrics } from '../../services/worker/metrics';
import { sharedCapacity } from '../../services/worker/lanes';
import { DEFAULT_LANE_WEIGHTS } from '../../services/shared/lanes/priority';
import { createWorker } from '../../services/worker/worker';
import { PrivateKafka } from '../helpers/kafka-server';
import { eventually, REDIS_URL, uniqueQueue } from '../helpers/stack';

describe('a service that can no longer work', () => {
  it('is stopped, and its process exits 1 so that the orchestrator restarts it', async () => {
    const fixture = join(__dirname, '..', 'fixtures', 'failing-service.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    const lines = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string; error?: string });
    expect(lines.map((l) => l.msg)).toEqual([
      'cannot go on; stopping so that the process is restarted',
      'fixture stopped',
    ]);
    expect(lines[0]!.error).toBe('Error: consumer gone');
  });
});

describe('a worker whose Kafka consumer kafkajs gives up on (a private real broker, stopped)', () => {
  let kafka: PrivateKafka;
  beforeAll(async () => {
    kafka = await PrivateKafka.create();
    await kafka.start();
  });
  afterAll(() => kafka.dispose());

  it('reports the consumer lost, which is what ends its process', async () => {
    const queue = uniqueQueue();
    const config = loadWorkerConfig({ SPILLWAY_QUEUE: queue, KAFKA_BROKERS: kafka.brokers, REDIS_URL });
    const logger = createLogger('silent');
    const client = createKafka(config.kafka, logger);
    const names = kafkaNames(queue);
    await prepareTopics(client, config.kafka, names);
    // Real kafkajs, told not to restart after a crash once the broker is gone: the same state as
    // the non-retriable errors (KafkaJSGroupCoordinatorNotFound) the chaos suite met, which
    // cannot be caused at will. Until then it restarts, as a fresh broker may not be ready yet.
    let brokerGone = false;
    const consumer = client.consumer({
      groupId: names.workerGroup,
      retry: { retries: 1, initialRetryTime: 100, restartOnFailure: async () => !brokerGone },
    });
    const lost: Error[] = [];
    const worker = createWorker({
      consumer,
      lane: { name: 'normal', topic: names.tasksTopic },
      capacity: sharedCapacity(2, DEFAULT_LANE_WEIGHTS),
      commitIntervalMs: 500,
      run: async () => undefined,
      deadLetterPoison: async () => undefined,
      events: new WorkerMetrics(),
      logger,
      onConsumerLost: (error) => lost.push(error),
    });
    await worker.start();
    await eventually(
      async () => (worker.isReady() ? true : undefined),
      30_000,
      'the worker joined its group',
    );

    brokerGone = true;
    await kafka.stop();
    await eventually(async () => (lost.length > 0 ? true : undefined), 60_000, 'onConsumerLost called');
    expect(lost[0]).toBeInstanceOf(Error);
    expect(worker.isReady()).toBe(false);
    await worker.stop(0);
  });
});
