import { loadApiConfig } from '../../services/api/config';
import { startApi, type RunningApi } from '../../services/api/main';
import { kafkaNames } from '../../services/shared/kafka/names';
import { decodeTaskMessage } from '../../services/shared/task-message';
import { request } from '../helpers/http';
import { readTopic } from '../helpers/kafka';
import { KAFKA_BROKERS, quietLogger, REDIS_URL, uniqueQueue } from '../helpers/stack';

describe('API against real Kafka and Redis', () => {
  const queue = uniqueQueue();
  let api: RunningApi;
  let url: string;

  beforeAll(async () => {
    const config = loadApiConfig({
      PORT: '0',
      SPILLWAY_QUEUE: queue,
      KAFKA_BROKERS,
      REDIS_URL,
      KAFKA_TASK_PARTITIONS: '3',
      MAX_BODY_BYTES: '4096',
    });
    api = await startApi(config, quietLogger);
    url = `http://127.0.0.1:${api.port}`;
  });
  afterAll(() => api.stop());

  it('accepts a task only once Kafka holds it, and records it as queued', async () => {
    const res = await request(url, 'POST', '/v1/tasks', {
      json: { type: 'echo', payload: { hello: 'world' } },
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      id: expect.any(String),
      type: 'echo',
      status: 'queued',
      createdAt: expect.any(String),
    });
    expect(res.headers.get('location')).toBe(`/v1/tasks/${res.body.id}`);

    const [message] = await readTopic(kafkaNames(queue).tasksTopic, 1);
    expect(decodeTaskMessage(message!.value)).toMatchObject({
      id: res.body.id,
      type: 'echo',
      payload: { hello: 'world' },
    });

    const record = await request(url, 'GET', `/v1/tasks/${res.body.id}`);
    expect(record.status).toBe(200);
    expect(record.body).toEqual({
      id: res.body.id,
      type: 'echo',
      tenant: 'default',
      priority: 'normal',
      lane: 'normal',
      status: 'queued',
      attempts: 0,
      createdAt: res.body.createdAt,
      startedAt: null,
      finishedAt: null,
      result: null,
      error: null,
      progress: null,
      history: [],
      // What it was submitted with.
      key: null,
      payload: { hello: 'world' },
      maxAttempts: 3,
      timeoutMs: null,
      callbackUrl: null,
    });
  });

  it('answers 404 with the error shape for an unknown task id', async () => {
    const res = await request(url, 'GET', '/v1/tasks/00000000-0000-4000-8000-000000000000');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { code: 'task_not_found', message: expect.stringContaining('00000000'), details: [] },
    });
  });

  it.each([
    [
      'malformed JSON',
      { body: '{"type": "echo",', headers: { 'content-type': 'application/json' } },
      400,
      'invalid_json',
    ],
    [
      'a body that is not JSON',
      { body: 'type=echo', headers: { 'content-type': 'text/plain' } },
      415,
      'unsupported_media_type',
    ],
    [
      'a body over the limit',
      { json: { type: 'echo', payload: 'x'.repeat(5000) } },
      413,
      'payload_too_large',
    ],
    ['a task without a type', { json: { payload: {} } }, 422, 'validation_failed'],
    // What `curl -X POST -H 'content-type: application/json'` sends with no -d.
    ['no body at all', { headers: { 'content-type': 'application/json' } }, 422, 'validation_failed'],
  ])('rejects %s', async (_name, options, status, code) => {
    const res = await request(url, 'POST', '/v1/tasks', options);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
  });

  it('names the bad field in a validation error', async () => {
    const res = await request(url, 'POST', '/v1/tasks', { json: { type: '', payload: {}, urgency: 1 } });
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'type', message: expect.any(String) },
        { field: 'urgency', message: 'unknown field' },
      ]),
    );
  });

  it('answers 404 for an unknown route', async () => {
    const res = await request(url, 'GET', '/v2/tasks');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('route_not_found');
  });

  it('answers 405 with Allow for a known route asked with another method', async () => {
    const put = await request(url, 'PUT', '/v1/tasks', { json: { type: 'echo' } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(put.body.error).toMatchObject({ code: 'method_not_allowed', details: [{ field: 'method' }] });
    const patch = await request(url, 'PATCH', '/v1/tasks/some-id');
    expect(patch.status).toBe(405);
    expect(patch.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD']);
  });

  it('says a body is missing, not that its media type is wrong', async () => {
    const res = await request(url, 'POST', '/v1/tasks', { headers: { 'content-type': 'application/json' } });
    expect(res.body.error.details).toEqual([{ field: 'body', message: 'required' }]);
  });

  it('serves healthz and readyz with Kafka and Redis reachable', async () => {
    expect((await request(url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { redis: 'ok', kafka: 'ok' } });
  });

  it('exports enqueue and HTTP metrics by route template, never raw paths', async () => {
    await request(url, 'GET', '/v1/tasks/some-id-that-does-not-exist');
    const metrics = (await request(url, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(
      /spillway_tasks_enqueued_total\{type="echo",outcome="accepted",tenant="default"\} 1/,
    );
    expect(metrics).toMatch(/spillway_tasks_enqueued_total\{type="",outcome="invalid",tenant="default"\} 2/);
    expect(metrics).toMatch(
      /spillway_http_requests_total\{method="GET",route="\/v1\/tasks\/:id",status="404"\} 2/,
    );
    expect(metrics).toContain('spillway_enqueue_duration_seconds_count 1');
    expect(metrics).not.toContain('some-id-that-does-not-exist');
  });

  it('echoes a caller-supplied request id', async () => {
    const res = await request(url, 'GET', '/healthz', { headers: { 'x-request-id': 'req-123' } });
    expect(res.headers.get('x-request-id')).toBe('req-123');
  });
});
