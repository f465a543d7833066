import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { createApp } from '../../services/api/app';
import {
  SubmissionInDoubt,
  type Accepted,
  type SubmitOptions,
  type TaskSubmitter,
} from '../../services/api/submit';
import type { Submission } from '../../services/api/validation';
import type { DeadLetter } from '../../services/shared/dead-letter';
import { deadLetter as sharedDeadLetter } from '../helpers/dead-letters';
import { UnavailableError } from '../../services/shared/errors';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { RedisKeys } from '../../services/shared/redis/keys';
import { request, serve } from '../helpers/http';
import { readTopic } from '../helpers/kafka';
import { apiFor } from '../helpers/services';
import { eventually, quietLogger, REDIS_URL, uniqueQueue } from '../helpers/stack';
import { deleteMatching } from '../helpers/redis-keys';

/** The shared fixture, with this suite's task fields. */
const deadLetter = (deadAt: number, extra: Partial<DeadLetter> = {}): DeadLetter =>
  sharedDeadLetter(deadAt, extra, {
    payload: { message: 'boom', n: [1, 2] },
    enqueuedAt: deadAt - 3000,
    key: 'customer-7',
    timeoutMs: 4000,
    callbackUrl: 'http://127.0.0.1:9/hook',
  });

const poisonLetter = (deadAt: number): DeadLetter => ({
  id: `poison:spillway.x.tasks:2:${deadAt}`,
  reason: 'poison',
  deadAt,
  raw: '{not json',
  error: { name: 'PoisonMessageError', message: 'not a task message: value is not JSON' },
  history: [],
});

const iso = (ms: number) => new Date(ms).toISOString();

async function removeKeys(queue: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  await deleteMatching(redis, `${new RedisKeys(queue).prefix}*`);
  await redis.quit();
}

describe('dead letters over HTTP', () => {
  const queue = uniqueQueue();
  const store = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  let api: Awaited<ReturnType<typeof apiFor>>;
  const base = Date.now() - 60_000;
  const failed = deadLetter(base + 3000);
  const poison = poisonLetter(base + 2000);
  const older = [deadLetter(base + 1000, { reason: 'non-retriable' }), deadLetter(base)];

  beforeAll(async () => {
    api = await apiFor(queue);
    for (const entry of [failed, poison, ...older]) await store.add(entry);
  });
  afterAll(async () => {
    await api.stop();
    await store.close();
    await removeKeys(queue);
  });

  it('lists newest first, a page at a time, times as ISO 8601', async () => {
    const first = await request(api.url, 'GET', '/v1/dead-letters?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items).toEqual([
      {
        id: failed.id,
        reason: 'attempts-exhausted',
        deadAt: iso(failed.deadAt),
        task: {
          ...failed.task,
          tenant: 'default',
          priority: 'normal',
          enqueuedAt: iso(failed.task!.enqueuedAt),
        },
        raw: null,
        error: failed.error,
        history: failed.history.map((h) => ({
          ...h,
          startedAt: iso(h.startedAt),
          finishedAt: iso(h.finishedAt),
        })),
        replayedAs: null,
      },
      { ...poison, deadAt: iso(poison.deadAt), task: null, replayedAs: null },
    ]);
    expect(first.body.nextCursor).toEqual(expect.any(String));

    const second = await request(api.url, 'GET', `/v1/dead-letters?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((item: { id: string }) => item.id)).toEqual(older.map((e) => e.id));
    expect(second.body.nextCursor).toBeNull();

    const all = await request(api.url, 'GET', '/v1/dead-letters');
    expect(all.body.items).toHaveLength(4);
    expect(all.body.nextCursor).toBeNull();
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=2.5', 'limit'],
    ['limit=1&limit=2', 'limit'],
    ['cursor=not-a-cursor', 'cursor'],
    ['cursor=', 'cursor'],
  ])('answers ?%s with 422 naming %s', async (query, field) => {
    const res = await request(api.url, 'GET', `/v1/dead-letters?${query}`);
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', details: [{ field }] });
  });

  it('replays a dead task once, as a new queued task on the tasks topic', async () => {
    const res = await request(api.url, 'POST', `/v1/dead-letters/${failed.id}/replay`);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      id: expect.any(String),
      type: 'fail',
      status: 'queued',
      createdAt: expect.any(String),
      replayOf: failed.id,
    });
    const newId: string = res.body.id;
    expect(newId).not.toBe(failed.id);
    expect(res.headers.get('location')).toBe(`/v1/tasks/${newId}`);

    const [message] = await readTopic(kafkaNames(queue).tasksTopic, 1);
    expect(message!.key?.toString()).toBe('customer-7');
    const { enqueuedAt, ...sent } = JSON.parse(message!.value!.toString());
    expect(sent).toEqual({ ...failed.task, id: newId, enqueuedAt: undefined });
    expect(enqueuedAt).toBeGreaterThan(failed.task!.enqueuedAt);
    expect((await request(api.url, 'GET', `/v1/tasks/${newId}`)).body).toMatchObject({
      id: newId,
      type: 'fail',
      status: 'queued',
    });
    expect((await store.get(failed.id))?.replayedAs).toBe(newId);

    const again = await request(api.url, 'POST', `/v1/dead-letters/${failed.id}/replay`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_replayed');
    expect(again.body.error.message).toContain(newId);
    const listed = await request(api.url, 'GET', '/v1/dead-letters?limit=1');
    expect(listed.body.items[0]).toMatchObject({ id: failed.id, replayedAs: newId });
  });

  it('lets only one of concurrent replays submit', async () => {
    const entry = deadLetter(base - 1000);
    await store.add(entry);
    const replies = await Promise.all(
      Array.from({ length: 4 }, () => request(api.url, 'POST', `/v1/dead-letters/${entry.id}/replay`)),
    );
    const accepted = replies.filter((r) => r.status === 202);
    expect(accepted).toHaveLength(1);
    for (const r of replies.filter((r) => r.status !== 202)) {
      expect(r.status).toBe(409);
      expect(['already_replayed', 'replay_in_progress']).toContain(r.body.error.code);
    }
    expect((await store.get(entry.id))?.replayedAs).toBe(accepted[0]!.body.id);
  });

  it('refuses to replay a poison message (409) and an unknown id (404)', async () => {
    const res = await request(api.url, 'POST', `/v1/dead-letters/${poison.id}/replay`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('not_replayable');
    const unknown = await request(api.url, 'POST', '/v1/dead-letters/no-such-id/replay');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('dead_letter_not_found');
  });

  it('counts dead letters in the stats', async () => {
    const stats = await request(api.url, 'GET', '/v1/stats');
    expect(stats.status).toBe(200);
    expect(stats.body.deadLetters).toBe(5);
    expect(stats.body.counts).toEqual(expect.objectContaining({ queued: expect.any(Number) }));
  });
});

describe('dead letters with API keys', () => {
  const KEY = 'key-dead-0123456789abcdef';
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  beforeAll(async () => (api = await apiFor(queue, { API_KEYS: KEY })));
  afterAll(() => api.stop());

  it('needs a key on both routes', async () => {
    expect((await request(api.url, 'GET', '/v1/dead-letters')).status).toBe(401);
    expect((await request(api.url, 'POST', '/v1/dead-letters/x/replay')).status).toBe(401);
    const auth = { authorization: `Bearer ${KEY}` };
    expect((await request(api.url, 'GET', '/v1/dead-letters', { headers: auth })).body).toEqual({
      items: [],
      nextCursor: null,
    });
    expect((await request(api.url, 'POST', '/v1/dead-letters/x/replay', { headers: auth })).status).toBe(404);
  });
});

/**
 * Kafka failing on cue is out of reach of the real stack, so these replays go through a
 * submitter that fails as the real one does; the dead letters are in the real Redis.
 */
describe('a replay whose submission fails', () => {
  const queue = uniqueQueue();
  const store = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  let submit: TaskSubmitter['submit'];
  let server: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    const unused = undefined as never;
    const app = createApp({
      config: { maxBodyBytes: 1024, maxBatchTasks: 10, apiKeys: [], allowedTypes: [] },
      names: unused,
      store: unused,
      submitter: {
        submit: (submissions: Submission[], options: SubmitOptions) => submit(submissions, options),
      } as unknown as TaskSubmitter,
      idempotency: unused,
      deadLetters: store,
      batches: unused,
      pauses: unused,
      watcher: unused,
      inspector: unused,
      readiness: [],
      events: { httpRequest: () => undefined, deadLettersActedOn: () => undefined } as never,
      metrics: unused,
      logger: quietLogger,
      version: 'test',
    });
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await store.close();
    await removeKeys(queue);
  });

  it('releases the claim when Kafka refused it, so a retry can replay', async () => {
    const entry = deadLetter(Date.now());
    await store.add(entry);
    submit = async () => {
      throw new UnavailableError('Kafka did not acknowledge in time; try again');
    };
    const res = await request(server.url, 'POST', `/v1/dead-letters/${entry.id}/replay`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await store.get(entry.id)).toEqual(entry);
    expect((await store.claimReplay(entry.id)).state).toBe('claimed');
  });

  it('keeps the claim of a send in doubt until Kafka answers, then records what landed', async () => {
    const landed = deadLetter(Date.now());
    const lost = deadLetter(Date.now());
    for (const entry of [landed, lost]) await store.add(entry);
    const late: Accepted = { id: randomUUID(), type: 'fail', status: 'queued', createdAt: iso(Date.now()) };
    const outcomes = new Map<string, (accepted: Accepted[] | undefined) => void>();
    submit = async () => {
      const id = outcomes.size === 0 ? landed.id : lost.id;
      throw new SubmissionInDoubt(
        'may still be accepted',
        new Promise((resolve) => outcomes.set(id, resolve)),
      );
    };
    for (const entry of [landed, lost]) {
      const res = await request(server.url, 'POST', `/v1/dead-letters/${entry.id}/replay`);
      expect(res.status).toBe(503);
      const retry = await request(server.url, 'POST', `/v1/dead-letters/${entry.id}/replay`);
      expect(retry.status).toBe(409);
      expect(retry.body.error.code).toBe('replay_in_progress');
      expect(retry.headers.get('retry-after')).toBe('1');
    }

    outcomes.get(landed.id)!([late]);
    outcomes.get(lost.id)!(undefined);
    await eventually(async () => ((await store.get(landed.id))?.replayedAs === late.id ? true : undefined));
    expect(
      await eventually(async () =>
        (await store.claimReplay(lost.id)).state === 'claimed' ? true : undefined,
      ),
    ).toBe(true);
  });
});
