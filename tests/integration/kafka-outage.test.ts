import { loadApiConfig } from '../../services/api/config';
import { startApi, type RunningApi } from '../../services/api/main';
import { kafkaNames } from '../../services/shared/kafka/names';
import { createLogger } from '../../services/shared/logger';
import { decodeTaskMessage } from '../../services/shared/task-message';
import { request, type Reply } from '../helpers/http';
import { readTopicUntil } from '../helpers/kafka';
import { PrivateKafka } from '../helpers/kafka-server';
import { eventually, REDIS_URL, uniqueQueue } from '../helpers/stack';

const PUBLISH_TIMEOUT_MS = 2000;
// The publish timeout plus room for the HTTP round trip on a busy two-core machine: a 503 that
// takes longer means something other than the timeout decides when the client hears back.
const ANSWER_BOUND_MS = PUBLISH_TIMEOUT_MS + 1500;
const KEY = 'outage-retry-1';
const KEYED_TASK = { type: 'echo', payload: { key: KEY } };
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

interface Timed {
  res: Reply;
  ms: number;
}

describe('API during a Kafka outage (a private real broker, stopped and started)', () => {
  const queue = uniqueQueue();
  const topic = kafkaNames(queue).tasksTopic;
  // As silent as quietLogger, but kept, so a failure can show what the API logged.
  const logLines: string[] = [];
  const logger = createLogger('debug', {}, (line) => logLines.push(line));
  let kafka: PrivateKafka | undefined;
  let api: RunningApi | undefined;
  let url: string;
  /** Every id the API answered 202 for, and every 503 it answered, across all phases. */
  const accepted: string[] = [];
  const refused: Reply[] = [];

  async function submit(): Promise<Timed> {
    const started = performance.now();
    const res = await request(url, 'POST', '/v1/tasks', { json: { type: 'echo', payload: {} } });
    const ms = Math.round(performance.now() - started);
    if (res.status === 202) accepted.push(res.body.id);
    if (res.status === 503) refused.push(res);
    return { res, ms };
  }

  function expectRefused({ res, ms }: Timed): void {
    expect(res.status).toBe(503);
    // The exact shape, so no id (nor anything else) can ride along.
    expect(res.body).toEqual({ error: { code: 'unavailable', message: expect.any(String), details: [] } });
    expect(JSON.stringify(res.body)).not.toMatch(UUID);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(ms).toBeLessThanOrEqual(ANSWER_BOUND_MS);
  }

  beforeAll(async () => {
    kafka = await PrivateKafka.create();
    await kafka.start();
    const config = loadApiConfig({
      PORT: '0',
      SPILLWAY_QUEUE: queue,
      KAFKA_BROKERS: kafka.brokers,
      REDIS_URL,
      KAFKA_TASK_PARTITIONS: '3',
      PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
    });
    api = await startApi(config, logger);
    url = `http://127.0.0.1:${api.port}`;
  });

  afterAll(async () => {
    await api?.stop();
    await kafka?.dispose();
  });

  it('accepts a task while the broker is up', async () => {
    const { res } = await submit();
    expect(res.status).toBe(202);
    expect(res.body.id).toMatch(UUID);
  });

  it('answers 503 unavailable in bounded time, without an id, while the broker is down', async () => {
    await kafka!.stop();

    expectRefused(await submit());
    // Each submission waits for its own acknowledgement: none may queue behind another's timeout.
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => submit()));
    concurrent.forEach(expectRefused);

    // A client that sends an Idempotency-Key is refused the same way; its retry is tested below.
    const keyed = await request(url, 'POST', '/v1/tasks', {
      json: KEYED_TASK,
      headers: { 'idempotency-key': KEY },
    });
    expect(keyed.status).toBe(503);
    expect(keyed.body.error.code).toBe('unavailable');
    // Counted as such: the six plain submissions and the keyed one.
    const metrics = String((await request(url, 'GET', '/metrics')).body);
    expect(metrics).toMatch(
      /spillway_tasks_enqueued_total\{type="echo",outcome="unavailable",tenant="default"\} 7/,
    );
  });

  it('is live but not ready while the broker is down, naming Kafka as the failing check', async () => {
    const ready = await request(url, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('not ready');
    expect(ready.body.checks.kafka).not.toBe('ok');
    expect(ready.body.checks.redis).toBe('ok');
    // Liveness is about the process: restarting the API would not bring Kafka back.
    expect((await request(url, 'GET', '/healthz')).status).toBe(200);
  });

  it('recovers without a restart once the broker is back', async () => {
    await kafka!.start();
    try {
      await eventually(
        async () => {
          const attempt = await submit();
          // Until the producer has reconnected it may still refuse, but only the proper way.
          if (attempt.res.status !== 202) expectRefused(attempt);
          return attempt.res.status === 202 ? true : undefined;
        },
        30_000,
        'a 202 after the broker restarted',
      );
      await eventually(
        async () => ((await request(url, 'GET', '/readyz')).status === 200 ? true : undefined),
        15_000,
        '/readyz 200 after the broker restarted',
      );
    } catch (err) {
      throw new Error(`${String(err)}\nlast API log lines:\n${logLines.slice(-15).join('\n')}`);
    }
    // Back to normal, not one lucky send.
    const after = await Promise.all(Array.from({ length: 3 }, () => submit()));
    after.forEach(({ res }) => expect(res.status).toBe(202));
  });

  it('turns a retry with the same Idempotency-Key into exactly one task, whether the refused send landed or not', async () => {
    // The refused send may still land (kafkajs retried it after the API gave up): the key then
    // stays claimed (409 in progress) until the outcome is known, and replays that task (200);
    // if Kafka never confirmed it, the retry publishes the same task id again (202), which the
    // workers run once.
    const retried = await eventually(
      async () => {
        const res = await request(url, 'POST', '/v1/tasks', {
          json: KEYED_TASK,
          headers: { 'idempotency-key': KEY },
        });
        if (res.status === 409) expect(res.body.error.code).toBe('idempotency_request_in_progress');
        return [200, 202].includes(res.status) ? res : undefined;
      },
      30_000,
      'the keyed retry answered',
    );
    const id = retried.body.id as string;
    const messages = await readTopicUntil(
      topic,
      (read) => read.some((message) => decodeTaskMessage(message.value).id === id),
      20_000,
      kafka!.brokers,
    );
    const keyedOnTopic = messages.filter((message) => {
      const payload = decodeTaskMessage(message.value).payload as { key?: string } | null;
      return payload?.key === KEY;
    });
    expect(new Set(keyedOnTopic.map((message) => decodeTaskMessage(message.value).id))).toEqual(
      new Set([id]),
    );
  });

  it('holds every accepted task on the topic, and never gave an id with a 503', async () => {
    // Read until every accepted id arrived rather than a count: a send the API gave up on (503)
    // can still land once the broker is back, as kafkajs keeps retrying it, so the topic's size
    // is not known. Such late tasks are not asserted on here.
    const messages = await readTopicUntil(
      topic,
      (read) => {
        const ids = new Set(read.map((message) => decodeTaskMessage(message.value).id));
        return accepted.every((id) => ids.has(id));
      },
      20_000,
      kafka!.brokers,
    );
    const onTopic = messages.map((message) => decodeTaskMessage(message.value).id);
    expect(accepted).toHaveLength(5);
    expect(onTopic).toEqual(expect.arrayContaining(accepted));
    expect(refused.length).toBeGreaterThanOrEqual(6);
    for (const res of refused) expect(JSON.stringify(res.body)).not.toMatch(UUID);
  });
});
