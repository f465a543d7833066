import Redis from 'ioredis';
import { DeadLetterBulk } from '../../services/api/dead-letters/bulk';
import { DeadLetterReplayer } from '../../services/api/dead-letters/replayer';
import { DEAD_LETTER_LIMITS } from '../../services/api/dead-letters/schemas';
import type { TaskSubmitter } from '../../services/api/submit';
import type { DeadLetter } from '../../services/shared/dead-letter';
import { ApiError } from '../../services/shared/errors';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { RedisKeys } from '../../services/shared/redis/keys';
import { seededTaskId } from '../../services/shared/task-ids';
import { ALL_SCOPES } from '../../services/shared/tenancy/scopes';
import { clearDeadLetters, deadLetter, poisonLetter } from '../helpers/dead-letters';
import { request } from '../helpers/http';
import { readTopic, writeRaw } from '../helpers/kafka';
import { componentChecker } from '../helpers/openapi';
import { deleteMatching } from '../helpers/redis-keys';
import { apiFor, metricValue } from '../helpers/services';
import { quietLogger, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * GET /v1/dead-letters?reason=&type=, POST /v1/dead-letters/replay and /discard, DELETE
 * /v1/dead-letters/:id on the real API (Kafka and Redis); the dead letters are added to Redis as a
 * worker adds them. dead-letters-worker.test.ts replays onto a real worker; -tenants, the keys.
 */
describe('dead letters filtered and in bulk', () => {
  const queue = uniqueQueue();
  const keys = new RedisKeys(queue);
  const raw = new Redis(REDIS_URL);
  const store = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  let api: Awaited<ReturnType<typeof apiFor>>;
  let check: ReturnType<typeof componentChecker>;
  const post = (path: string, json: unknown) => request(api.url, 'POST', path, { json });
  const ids = async (query = '') => {
    const found: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await request(
        api.url,
        'GET',
        `/v1/dead-letters?limit=200${query}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      check('DeadLetterPage', page.body);
      found.push(...page.body.items.map((d: DeadLetter) => d.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    return found;
  };
  const add = async (...entries: DeadLetter[]) => {
    for (const entry of entries) await store.add(entry);
    return entries;
  };

  beforeAll(async () => {
    api = await apiFor(queue);
    check = componentChecker((await request(api.url, 'GET', '/openapi.json')).body);
  });
  afterAll(async () => {
    await api.stop();
    await store.close();
    await deleteMatching(raw, `${keys.prefix}*`);
    await raw.quit();
  });
  // Each test starts from no dead letters.
  beforeEach(() => clearDeadLetters(raw, keys));

  it('filters the list by reason and type, newest first, through its pages', async () => {
    const base = Date.now() - 60_000;
    const letters = await add(
      deadLetter(base, { reason: 'non-retriable' }, { type: 'email' }),
      deadLetter(base + 1, {}, { type: 'email' }),
      deadLetter(base + 2, { reason: 'unknown-type' }, { type: 'nope' }),
      poisonLetter(base + 3),
      deadLetter(base + 4, { reason: 'non-retriable' }),
    );
    const [nonRetriableEmail, email, unknown, poison, nonRetriable] = letters.map((l) => l.id);
    expect(await ids('&reason=non-retriable')).toEqual([nonRetriable, nonRetriableEmail]);
    expect(await ids('&type=email')).toEqual([email, nonRetriableEmail]);
    expect(await ids('&type=email&reason=non-retriable')).toEqual([nonRetriableEmail]);
    expect(await ids('&reason=poison')).toEqual([poison]);
    expect(await ids('&reason=unknown-type&type=nope')).toEqual([unknown]);
    expect(await ids('&type=none')).toEqual([]);
    // One at a time: a cursor carries on where the filter stopped.
    const first = await request(api.url, 'GET', '/v1/dead-letters?limit=1&type=email');
    expect(first.body.items.map((d: DeadLetter) => d.id)).toEqual([email]);
    const second = await request(
      api.url,
      'GET',
      `/v1/dead-letters?limit=1&type=email&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.items.map((d: DeadLetter) => d.id)).toEqual([nonRetriableEmail]);
  });

  it('ends a filtered page after examining its share of the list, with a cursor to go on', async () => {
    const base = Date.now() - 60_000;
    const many = DEAD_LETTER_LIMITS.pageExamineEntries + 50;
    const wanted = deadLetter(base, {}, { type: 'rare' });
    await add(wanted);
    // Many newer letters of another type, written in one pipeline.
    const pipeline = raw.pipeline();
    for (let i = 1; i <= many; i++) {
      const entry = deadLetter(base + i);
      pipeline.set(keys.deadLetter(entry.id), JSON.stringify(entry), 'EX', 3600);
      pipeline.zadd(keys.deadLetters(), entry.deadAt, entry.id);
      pipeline.zadd(keys.deadLetters('default'), entry.deadAt, entry.id);
    }
    await pipeline.exec();
    const first = await request(api.url, 'GET', '/v1/dead-letters?type=rare');
    expect(first.body).toEqual({ items: [], nextCursor: expect.any(String) });
    const next = await request(api.url, 'GET', `/v1/dead-letters?type=rare&cursor=${first.body.nextCursor}`);
    expect(next.body.items.map((d: DeadLetter) => d.id)).toEqual([wanted.id]);
    expect(next.body.nextCursor).toBeNull();
  });

  it.each([
    ['reason=old', 'reason'],
    ['reason=', 'reason'],
    ['reason=poison&reason=non-retriable', 'reason'],
    ['type=has%20space', 'type'],
    ['type=', 'type'],
  ])('answers ?%s with 422 naming %s', async (query, field) => {
    const res = await request(api.url, 'GET', `/v1/dead-letters?${query}`);
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', details: [{ field }] });
    check('Error', res.body);
  });

  it.each([
    ['no filter', 'filter', {}],
    ['only dryRun', 'filter', { dryRun: true }],
    ['an unknown reason', 'filter.reason', { filter: { reason: 'sad' } }],
    ['a type that cannot be', 'filter.type', { filter: { type: 'has space' } }],
    ['a tenant that cannot be', 'filter.tenant', { filter: { tenant: 'Not A Tenant' } }],
    ['1001 ids', 'filter.ids', { filter: { ids: Array.from({ length: 1001 }, (_, i) => `id-${i}`) } }],
    ['an empty id', 'filter.ids[1]', { filter: { ids: ['a', ''] } }],
    ['an unknown filter field', 'filter.key', { filter: { key: 'k' } }],
    ['dryRun not a boolean', 'dryRun', { filter: {}, dryRun: 'yes' }],
    ['an unknown field', 'everything', { filter: {}, everything: true }],
    ['an array', undefined, []],
  ])('refuses a bulk body with %s: 422 naming %s', async (_what, field, body) => {
    for (const action of ['replay', 'discard']) {
      const res = await post(`/v1/dead-letters/${action}`, body);
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details).toEqual([
        expect.objectContaining(field === undefined ? { message: 'must be a JSON object' } : { field }),
      ]);
      check('Error', res.body);
    }
  });

  it('counts without touching anything on a dry run', async () => {
    const letters = await add(
      deadLetter(Date.now() - 2),
      deadLetter(Date.now() - 1),
      poisonLetter(Date.now()),
    );
    const before = await store.getMany(letters.map((l) => l.id));
    for (const action of ['replay', 'discard']) {
      const res = await post(`/v1/dead-letters/${action}`, { filter: {}, dryRun: true });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ matched: 3 });
      check('DeadLetterDryRun', res.body);
      const some = await post(`/v1/dead-letters/${action}`, {
        filter: { ids: [letters[0]!.id, 'no-such-id'] },
        dryRun: true,
      });
      expect(some.body).toEqual({ matched: 1 });
    }
    expect(await store.getMany(letters.map((l) => l.id))).toEqual(before);
  });

  it('counts poison as not replayable, and discards it by filter', async () => {
    const now = Date.now();
    const [poisonA, poisonB, task] = await add(poisonLetter(now - 2), poisonLetter(now - 1), deadLetter(now));
    const replayed = await post('/v1/dead-letters/replay', { filter: { reason: 'poison' } });
    expect(replayed.status).toBe(200);
    expect(replayed.body).toEqual({
      matched: 2,
      replayed: 0,
      alreadyReplayed: 0,
      notReplayable: 2,
      failed: 0,
      tasks: [],
    });
    check('DeadLetterReplayReport', replayed.body);
    const discarded = await post('/v1/dead-letters/discard', { filter: { reason: 'poison' } });
    expect(discarded.body).toEqual({ matched: 2, discarded: 2 });
    check('DeadLetterDiscardReport', discarded.body);
    expect(await ids()).toEqual([task!.id]);
    for (const gone of [poisonA!, poisonB!]) {
      expect((await post(`/v1/dead-letters/${gone.id}/replay`, undefined)).status).toBe(404);
    }
    // Gone is gone: the same discard again finds nothing.
    expect((await post('/v1/dead-letters/discard', { filter: { reason: 'poison' } })).body).toEqual({
      matched: 0,
      discarded: 0,
    });
  });

  it('discards one by id (204), then answers 404 for it', async () => {
    const [kept, gone] = await add(deadLetter(Date.now() - 1), poisonLetter(Date.now()));
    const before = await metricValue(
      api.url,
      'spillway_dead_letters_actions_total{action="discard",outcome="discarded"}',
    );
    const res = await request(api.url, 'DELETE', `/v1/dead-letters/${encodeURIComponent(gone!.id)}`);
    expect(res.status).toBe(204);
    expect(await ids()).toEqual([kept!.id]);
    const again = await request(api.url, 'DELETE', `/v1/dead-letters/${encodeURIComponent(gone!.id)}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('dead_letter_not_found');
    check('Error', again.body);
    expect(
      await metricValue(api.url, 'spillway_dead_letters_actions_total{action="discard",outcome="discarded"}'),
    ).toBe(before + 1);
    // Being replayed: left alone, and the client is told to come back.
    const claim = await store.claimReplay(kept!.id);
    const busy = await request(api.url, 'DELETE', `/v1/dead-letters/${kept!.id}`);
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('replay_in_progress');
    expect(busy.headers.get('retry-after')).toBe('1');
    if (claim.state === 'claimed') await store.releaseReplay(kept!.id, claim.token);
    expect((await request(api.url, 'DELETE', `/v1/dead-letters/${kept!.id}`)).status).toBe(204);
  });

  it('replays 1,200 letters over several chunks, each once, and a repeat replays none', async () => {
    const base = Date.now() - 60_000;
    const letters = Array.from({ length: 1200 }, (_, i) =>
      deadLetter(base + i, {}, { type: 'bulk', payload: { n: i } }),
    );
    await Promise.all(letters.map((letter) => store.add(letter)));
    await add(deadLetter(base - 1, {}, { type: 'other' }));
    const counter = 'spillway_dead_letters_actions_total{action="replay",outcome="replayed"}';
    const before = await metricValue(api.url, counter);

    const res = await post('/v1/dead-letters/replay', { filter: { type: 'bulk' } });
    expect(res.status).toBe(200);
    check('DeadLetterReplayReport', res.body);
    expect(res.body).toMatchObject({
      matched: 1200,
      replayed: 1200,
      alreadyReplayed: 0,
      notReplayable: 0,
      failed: 0,
    });
    expect(res.body.tasks).toHaveLength(DEAD_LETTER_LIMITS.bulkTasksListed);
    expect(await metricValue(api.url, counter)).toBe(before + 1200);

    // Each letter names its task, every task is new, and Kafka holds each one once.
    const after = await store.getMany(letters.map((l) => l.id));
    const taskIds = after.map((l) => l!.replayedAs!);
    expect(new Set(taskIds).size).toBe(1200);
    for (const { deadLetter: id, taskId } of res.body.tasks) {
      expect(after.find((l) => l!.id === id)!.replayedAs).toBe(taskId);
    }
    const messages = await readTopic(kafkaNames(queue).tasksTopic, 1200, 60_000);
    const sent = messages.map(
      (m) => JSON.parse(m.value!.toString()) as { id: string; payload: { n: number } },
    );
    expect(new Set(sent.map((m) => m.id))).toEqual(new Set(taskIds));
    expect(sent.map((m) => m.payload.n).sort((a, b) => a - b)).toEqual(letters.map((_, i) => i));

    const again = await post('/v1/dead-letters/replay', { filter: { type: 'bulk' } });
    expect(again.body).toEqual({
      matched: 1200,
      replayed: 0,
      alreadyReplayed: 1200,
      notReplayable: 0,
      failed: 0,
      tasks: [],
    });
    expect((await store.getMany(letters.map((l) => l.id))).map((l) => l!.replayedAs)).toEqual(taskIds);
    expect((await ids('&type=other')).length).toBe(1);
    expect((await store.list({ limit: 1, type: 'other' })).items[0]!.replayedAs).toBeUndefined();
  }, 120_000);

  it('seeds a replay task id by its letter, alone or in bulk, and counts ids named twice once', async () => {
    const [one, two] = await add(deadLetter(Date.now() - 1), deadLetter(Date.now()));
    const single = await post(`/v1/dead-letters/${one!.id}/replay`, undefined);
    expect(single.status).toBe(202);
    const bulk = await post('/v1/dead-letters/replay', { filter: { ids: [one!.id, two!.id, one!.id] } });
    expect(bulk.body).toMatchObject({ matched: 2, replayed: 1, alreadyReplayed: 1 });
    // The same id either way: a replay retried after Kafka left it in doubt is one task.
    expect(single.body.id).toBe(seededTaskId(`replay:${one!.id}`, 0));
    expect(bulk.body.tasks).toEqual([{ deadLetter: two!.id, taskId: seededTaskId(`replay:${two!.id}`, 0) }]);
    expect((await store.get(one!.id))!.replayedAs).toBe(single.body.id);
  });

  it('does not bring a discarded letter back when the index is rebuilt from the topic', async () => {
    const now = Date.now();
    const letters = await add(
      deadLetter(now - 3),
      deadLetter(now - 2),
      deadLetter(now - 1),
      poisonLetter(now),
    );
    await writeRaw(
      kafkaNames(queue).deadLetterTopic,
      letters.map((l) => JSON.stringify(l)),
    );
    const [kept, lost, discarded, poison] = letters;
    expect(
      (await post('/v1/dead-letters/discard', { filter: { ids: [discarded!.id, poison!.id] } })).body,
    ).toEqual({
      matched: 2,
      discarded: 2,
    });
    // Redis loses one it still had: the rebuild brings that one back, not the discarded.
    await raw.del(keys.deadLetter(lost!.id));
    const rebuilt = await post('/v1/dead-letters/rebuild', undefined);
    expect(rebuilt.status).toBe(200);
    check('RebuildReport', rebuilt.body);
    expect(rebuilt.body).toMatchObject({ restored: 1, present: 1, discarded: 2 });
    expect(await ids()).toEqual([lost!.id, kept!.id]);
  });
});

/** The cap on one request's matched set, reached with a handful of letters by shrinking it. */
describe('a bulk action over its cap', () => {
  const queue = uniqueQueue();
  const raw = new Redis(REDIS_URL);
  const store = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  const events = { deadLettersActedOn: () => undefined };
  const submitter = {
    submit: () => Promise.reject(new Error('nothing may be submitted')),
  } as unknown as TaskSubmitter;
  const replayer = new DeadLetterReplayer({ deadLetters: store, submitter, events, logger: quietLogger });
  const bulk = new DeadLetterBulk({
    deadLetters: store,
    replayer,
    events,
    logger: quietLogger,
    limits: { bulkMatched: 5 },
  });
  const admin = { principal: 'test', tenant: { name: 'default' }, scopes: ALL_SCOPES };
  afterAll(async () => {
    await store.close();
    await deleteMatching(raw, `${new RedisKeys(queue).prefix}*`);
    await raw.quit();
  });

  it('refuses with 422 naming the filter, and acts on nothing', async () => {
    const letters = Array.from({ length: 6 }, (_, i) => deadLetter(Date.now() - i));
    for (const letter of letters) await store.add(letter);
    for (const act of [bulk.replay.bind(bulk), bulk.discard.bind(bulk)]) {
      const refused = await act(admin, { filter: {}, dryRun: false }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ApiError);
      expect(refused).toMatchObject({
        httpStatus: 422,
        code: 'validation_failed',
        details: [{ field: 'filter' }],
      });
    }
    expect(await store.getMany(letters.map((l) => l.id))).toEqual(letters);
    // Narrowed to five, it goes through.
    const ids = letters.slice(0, 5).map((l) => l.id);
    expect(await bulk.discard(admin, { filter: { ids }, dryRun: false })).toEqual({
      matched: 5,
      discarded: 5,
    });
  });
});
