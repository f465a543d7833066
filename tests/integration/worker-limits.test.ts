import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { handlersWith, metricValue, workerFor } from '../helpers/services';
import { REDIS_URL, uniqueQueue } from '../helpers/stack';
import { finished, publishTasks, taskMessage } from '../helpers/tasks';

describe('MAX_RESULT_BYTES', () => {
  const queue = uniqueQueue();
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  const deadLetters = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  let runs = 0;
  let worker: Awaited<ReturnType<typeof workerFor>>;

  beforeAll(async () => {
    const handlers = handlersWith({
      // Returns `payload` characters of text: 2 bytes more as JSON (the quotes).
      sized: async (payload) => {
        runs += 1;
        return 'x'.repeat(Number(payload));
      },
      bigint: async () => ({ n: 1n }) as never,
    });
    worker = await workerFor(queue, { MAX_RESULT_BYTES: '2048', RETRY_BASE_DELAY_MS: '50' }, handlers);
  });
  afterAll(async () => {
    await worker.stop();
    await store.close();
    await deadLetters.close();
  });

  it('stores a result of exactly the limit', async () => {
    const task = taskMessage('sized', 2046);
    await publishTasks(kafkaNames(queue).tasksTopic, [task]);
    const record = await finished(store, task.id);
    expect(record.status).toBe('succeeded');
    expect(record.result).toHaveLength(2046);
  });

  it('fails a task whose result is over the limit at once, without storing it or retrying', async () => {
    const before = runs;
    const task = taskMessage('sized', 2047, { maxAttempts: 3 });
    await publishTasks(kafkaNames(queue).tasksTopic, [task]);
    const record = await finished(store, task.id);
    expect(record.status).toBe('failed');
    expect(record.result).toBeUndefined();
    expect(record.attempts).toBe(1);
    expect(record.error).toEqual({
      name: 'ResultTooLargeError',
      message: expect.stringMatching(
        /^result_too_large: the result is 2049 bytes .*MAX_RESULT_BYTES \(2048\)/,
      ),
    });
    expect(runs - before).toBe(1);
    const dead = await deadLetters.get(task.id);
    expect(dead?.reason).toBe('non-retriable');
    expect(
      await metricValue(worker.url, 'spillway_dead_letters_total{reason="non-retriable"}'),
    ).toBeGreaterThanOrEqual(1);
  });

  it('fails a task whose result cannot be JSON, instead of retrying a write that cannot succeed', async () => {
    const task = taskMessage('bigint', null);
    await publishTasks(kafkaNames(queue).tasksTopic, [task]);
    const record = await finished(store, task.id);
    expect(record.status).toBe('failed');
    expect(record.attempts).toBe(1);
    expect(record.error?.message).toMatch(/the result is not JSON/);
  });
});
