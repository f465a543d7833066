import Redis from 'ioredis';
import type { DeadLetter } from '../../services/shared/dead-letter';
import { poisonLetter, deadLetter as sharedDeadLetter } from '../helpers/dead-letters';
import {
  InvalidCursorError,
  RedisDeadLetterStore,
  type DeadLetterStore,
  type ListOptions,
} from '../../services/shared/redis/dead-letter-store';
import { RedisKeys } from '../../services/shared/redis/keys';
import { REDIS_URL, uniqueQueue } from '../helpers/stack';
import { deleteMatching } from '../helpers/redis-keys';

const TTL_SECONDS = 3600;

/** The shared fixture, with this suite's task fields. */
const deadLetter = (deadAt: number, extra: Partial<DeadLetter> = {}): DeadLetter =>
  sharedDeadLetter(deadAt, extra, { payload: { n: [], x: 0.30000000000000004 } });

/** Every page from the start, following nextCursor; `between` runs after each page. */
async function allPages(
  store: DeadLetterStore,
  limit: number,
  between: () => Promise<void> = async () => {},
) {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit, ...(cursor !== undefined && { cursor }) });
    pages.push(page.items.map((entry) => entry.id));
    cursor = page.nextCursor ?? undefined;
    await between();
  } while (cursor !== undefined);
  return pages;
}

describe('RedisDeadLetterStore against a real Redis', () => {
  const raw = new Redis(REDIS_URL);
  const queues: string[] = [];
  const stores: RedisDeadLetterStore[] = [];
  const storeFor = (options: { replayClaimSeconds?: number } = {}) => {
    const queue = uniqueQueue();
    const store = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: TTL_SECONDS, ...options });
    queues.push(queue);
    stores.push(store);
    return { store, keys: new RedisKeys(queue) };
  };

  afterAll(async () => {
    for (const queue of queues) {
      await deleteMatching(raw, `${new RedisKeys(queue).prefix}*`);
    }
    await Promise.all([...stores.map((store) => store.close()), raw.quit()]);
  });

  it('ends a page at its byte budget, and the pages after it list the rest once', async () => {
    const { store } = storeFor();
    const now = Date.now();
    // Five letters of about 100 KB, newest last; a budget of 250,000 bytes holds two of them.
    const letters = Array.from({ length: 5 }, (_, i) =>
      sharedDeadLetter(now - 5000 + i, {}, { payload: { data: 'x'.repeat(100_000) } }),
    );
    for (const letter of letters) await store.add(letter);
    const newestFirst = letters.map((l) => l.id).reverse();
    const ids: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list({
        limit: 10,
        maxBytes: 250_000,
        ...(cursor !== undefined && { cursor }),
      });
      ids.push(page.items.map((entry) => entry.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(ids).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
    // A letter over the budget on its own still makes a page.
    expect((await store.list({ limit: 10, maxBytes: 1000 })).items.map((e) => e.id)).toEqual([
      newestFirst[0],
    ]);
  });

  it('adds, reads back exactly, expires with the TTL, and replaces an entry added again', async () => {
    const { store, keys } = storeFor();
    const now = Date.now();
    const entry = deadLetter(now - 10);
    expect(await store.get(entry.id)).toBeUndefined();
    await store.add(entry);
    expect(await store.get(entry.id)).toEqual(entry);
    const ttl = await raw.ttl(keys.deadLetter(entry.id));
    expect(ttl).toBeGreaterThan(TTL_SECONDS - 5);
    expect(ttl).toBeLessThanOrEqual(TTL_SECONDS);

    // A redelivered dead-lettering: one listing, the newer content.
    const again = { ...entry, deadAt: now, error: { name: 'Error', message: 'boom again' } };
    await store.add(again);
    expect(await store.get(entry.id)).toEqual(again);
    expect(await store.list({ limit: 10 })).toEqual({ items: [again], nextCursor: null });
    expect(await store.count()).toBe(1);
  });

  it('keeps a poison entry, which has no task', async () => {
    const { store } = storeFor();
    const poison: DeadLetter = {
      id: 'poison:spillway.q.tasks:1:42',
      reason: 'poison',
      deadAt: Date.now(),
      raw: 'not json',
      error: { name: 'PoisonMessageError', message: 'not a task message: value is not JSON' },
      history: [],
    };
    await store.add(poison);
    expect(await store.get(poison.id)).toEqual(poison);
    expect(await store.claimReplay(poison.id)).toEqual({ state: 'not-replayable' });
  });

  it('pages newest first with a cursor that new arrivals do not shift, ties included', async () => {
    const { store } = storeFor();
    const base = Date.now() - 60_000;
    // Three share one millisecond: their order is by id, and a page boundary falls among them.
    const entries = [0, 1, 2, 3, 3, 3, 4, 5, 6].map((offset) => deadLetter(base + offset * 1000));
    for (const entry of entries) await store.add(entry);
    const expected = [...entries]
      .sort((a, b) => b.deadAt - a.deadAt || Buffer.compare(Buffer.from(b.id), Buffer.from(a.id)))
      .map((entry) => entry.id);

    expect((await allPages(store, 4)).flat()).toEqual(expected);
    expect(await allPages(store, 4)).toHaveLength(3);
    expect(await allPages(store, 9)).toEqual([expected]);

    const arrivals: string[] = [];
    const pages = await allPages(store, 2, async () => {
      // Each newer than the last even within one millisecond, so the newest is the last pushed
      // (two in one millisecond are ordered by id, which would make the check below a coin toss).
      const newer = deadLetter(Date.now() + arrivals.length);
      arrivals.push(newer.id);
      await store.add(newer);
    });
    expect(pages.flat()).toEqual(expected);
    expect((await store.list({ limit: 1 })).items[0]!.id).toBe(arrivals.at(-1));
    expect(await store.count()).toBe(entries.length + arrivals.length);
  });

  it('skips entries whose JSON expired and unindexes them', async () => {
    const { store, keys } = storeFor();
    const base = Date.now() - 10_000;
    const entries = Array.from({ length: 6 }, (_, i) => deadLetter(base + i));
    for (const entry of entries) await store.add(entry);
    const gone = [entries[4]!, entries[3]!, entries[1]!];
    for (const entry of gone) await raw.pexpire(keys.deadLetter(entry.id), 1);
    await new Promise((resolve) => setTimeout(resolve, 20));

    const first = await store.list({ limit: 2 });
    expect(first.items.map((e) => e.id)).toEqual([entries[5]!.id, entries[2]!.id]);
    const second = await store.list({ limit: 2, cursor: first.nextCursor! });
    expect(second).toEqual({ items: [entries[0]], nextCursor: null });
    for (const entry of gone) expect(await raw.zscore(keys.deadLetters(), entry.id)).toBeNull();
    expect(await store.count()).toBe(3);
  });

  it('forgets index entries older than the TTL when another is added', async () => {
    const { store, keys } = storeFor();
    const old = deadLetter(Date.now() - (TTL_SECONDS + 60) * 1000);
    await raw.zadd(keys.deadLetters(), old.deadAt, old.id);
    expect(await store.count()).toBe(0);
    await store.add(deadLetter(Date.now()));
    expect(await raw.zscore(keys.deadLetters(), old.id)).toBeNull();
    expect(await store.count()).toBe(1);
  });

  it('rejects a cursor it did not issue', async () => {
    const { store } = storeFor();
    for (const cursor of [
      'nope',
      Buffer.from('[1]').toString('base64url'),
      Buffer.from('["x","y"]').toString('base64url'),
    ]) {
      await expect(store.list({ limit: 1, cursor })).rejects.toThrow(InvalidCursorError);
    }
  });

  it('marks an entry replayed once only, keeping its TTL', async () => {
    const { store, keys } = storeFor();
    const entry = deadLetter(Date.now());
    await store.add(entry);
    await raw.expire(keys.deadLetter(entry.id), 500);
    expect(await store.markReplayed(entry.id, 'new-1')).toBe(true);
    expect(await store.markReplayed(entry.id, 'new-2')).toBe(false);
    expect(await store.get(entry.id)).toEqual({ ...entry, replayedAs: 'new-1' });
    expect(await raw.ttl(keys.deadLetter(entry.id))).toBeGreaterThan(490);
    expect(await store.markReplayed('unknown', 'new-3')).toBe(false);
    expect(await store.claimReplay(entry.id)).toEqual({ state: 'replayed', replayedAs: 'new-1' });
  });

  it('lets one of many concurrent claims win; a released claim can be taken again', async () => {
    const { store } = storeFor();
    const entry = deadLetter(Date.now());
    await store.add(entry);
    const claims = await Promise.all(Array.from({ length: 8 }, () => store.claimReplay(entry.id)));
    const won = claims.filter((claim) => claim.state === 'claimed');
    expect(won).toHaveLength(1);
    expect(claims.filter((claim) => claim.state === 'in-progress')).toHaveLength(7);
    expect(won[0]).toMatchObject({ entry });
    // The claim is the store's own business: readers never see it.
    expect(await store.get(entry.id)).toEqual(entry);

    await store.releaseReplay(entry.id, 'someone-else');
    expect((await store.claimReplay(entry.id)).state).toBe('in-progress');
    if (won[0]?.state !== 'claimed') throw new Error('unreachable');
    await store.releaseReplay(entry.id, won[0].token);
    expect((await store.claimReplay(entry.id)).state).toBe('claimed');
    expect(await store.markReplayed(entry.id, 'new-1')).toBe(true);
    expect(await store.get(entry.id)).toEqual({ ...entry, replayedAs: 'new-1' });
    expect(await store.claimReplay('unknown')).toEqual({ state: 'missing' });
  });

  it('lets a claim whose request died expire', async () => {
    const { store } = storeFor({ replayClaimSeconds: 0.2 });
    const entry = deadLetter(Date.now());
    await store.add(entry);
    expect((await store.claimReplay(entry.id)).state).toBe('claimed');
    expect((await store.claimReplay(entry.id)).state).toBe('in-progress');
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await store.claimReplay(entry.id)).state).toBe('claimed');
  });

  it('filters by reason and type, examining a bounded part of the index per page', async () => {
    const { store } = storeFor();
    const base = Date.now() - 60_000;
    // 40 letters, newest last: every fourth is a non-retriable `email`, the others `fail`s.
    const letters = Array.from({ length: 40 }, (_, i) =>
      i % 4 === 0
        ? sharedDeadLetter(base + i, { reason: 'non-retriable' }, { type: 'email' })
        : sharedDeadLetter(base + i),
    );
    for (const letter of letters) await store.add(letter);
    await store.add(poisonLetter(base + 40));
    const newestFirst = [...letters].reverse();
    const emails = newestFirst.filter((l) => l.task!.type === 'email').map((l) => l.id);

    /** Every page of a filtered listing that examines at most `entries` per page. */
    const pages = async (filter: Partial<ListOptions>, limit: number, entries: number) => {
      const found: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list({
          limit,
          ...filter,
          examine: { entries, bytes: Infinity },
          ...(cursor !== undefined && { cursor }),
        });
        found.push(page.items.map((e) => e.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      return found;
    };
    // Seven entries examined per page: a page holds one or two of the ten, and none is lost or repeated.
    const byType = await pages({ type: 'email' }, 5, 7);
    expect(byType.flat()).toEqual(emails);
    expect(byType.length).toBeGreaterThanOrEqual(Math.ceil(41 / 7));
    expect(Math.max(...byType.map((p) => p.length))).toBeLessThanOrEqual(2);
    // Examining enough, pages fill to the limit and the last says there is no more.
    expect(await pages({ reason: 'non-retriable' }, 4, 1000)).toEqual([
      emails.slice(0, 4),
      emails.slice(4, 8),
      emails.slice(8),
    ]);
    expect((await pages({ reason: 'poison' }, 10, 1000)).flat()).toEqual([poisonLetter(base + 40).id]);
    // A type leaves poison out; both filters at once narrow to what matches both.
    expect((await pages({ type: 'fail', reason: 'non-retriable' }, 10, 1000)).flat()).toEqual([]);
    expect((await pages({ type: 'fail' }, 50, 1000)).flat()).toHaveLength(30);
  });

  it('scans every match in chunks, and reads many ids at once', async () => {
    const { store } = storeFor();
    const base = Date.now() - 60_000;
    const letters = Array.from({ length: 150 }, (_, i) =>
      sharedDeadLetter(
        base + i,
        {},
        { type: i % 3 === 0 ? 'email' : 'fail', tenant: i % 2 ? 'acme' : undefined },
      ),
    );
    for (const letter of letters) await store.add(letter);
    await store.add(poisonLetter(base + 200));
    const scanned = async (filter: Parameters<DeadLetterStore['scan']>[0]) => {
      const ids: string[] = [];
      for await (const chunk of store.scan(filter)) ids.push(...chunk.map((e) => e.id));
      return ids;
    };
    const newestFirst = [...letters].reverse();
    expect(await scanned({})).toEqual([poisonLetter(base + 200).id, ...newestFirst.map((l) => l.id)]);
    expect(await scanned({ tenant: 'acme', type: 'email' })).toEqual(
      newestFirst.filter((l) => l.task!.tenant === 'acme' && l.task!.type === 'email').map((l) => l.id),
    );
    expect(await scanned({ tenant: 'default' })).toHaveLength(75);
    expect(await scanned({ reason: 'poison' })).toEqual([poisonLetter(base + 200).id]);

    const some = [letters[3]!.id, 'no-such-id', letters[140]!.id];
    expect(await store.getMany(some)).toEqual([letters[3], undefined, letters[140]]);
    expect(await store.getMany(letters.map((l) => l.id))).toEqual(letters);
  });

  it('discards an entry and its index memberships, and a rebuild does not restore it', async () => {
    const { store, keys } = storeFor();
    const now = Date.now();
    const mine = sharedDeadLetter(now - 20, {}, { tenant: 'acme' });
    const other = sharedDeadLetter(now - 10, {}, { tenant: 'globex' });
    const poison = poisonLetter(now);
    for (const entry of [mine, other, poison]) await store.add(entry);

    // Another tenant's is missing to a caller who may not touch it, and left as it was.
    const acmeOnly = (entry: DeadLetter) => entry.task?.tenant === 'acme';
    expect(await store.discard(other.id, acmeOnly)).toBe('missing');
    expect(await store.discard(poison.id, acmeOnly)).toBe('missing');
    expect(await store.discard(mine.id, acmeOnly)).toBe('discarded');
    expect(await store.discard(mine.id)).toBe('missing');
    expect(await store.get(mine.id)).toBeUndefined();
    expect(await raw.zscore(keys.deadLetters(), mine.id)).toBeNull();
    expect(await raw.zscore(keys.deadLetters('acme'), mine.id)).toBeNull();
    expect(await raw.zscore(keys.deadLetters('globex'), other.id)).not.toBeNull();
    expect((await store.list({ limit: 10 })).items.map((e) => e.id)).toEqual([poison.id, other.id]);

    // The topic still holds it: a rebuild leaves it out, and restores what was only lost.
    expect(await store.restore(mine)).toBe('discarded');
    expect(await store.get(mine.id)).toBeUndefined();
    expect(await store.discard(poison.id)).toBe('discarded');
    expect(await store.restore(poison)).toBe('discarded');
    await raw.del(keys.deadLetter(other.id));
    expect(await store.restore(other)).toBe('restored');
    expect(await store.restore(other)).toBe('present');
    expect(await store.count()).toBe(1);
  });

  it('does not discard an entry a replay holds, and discards a replayed one', async () => {
    const { store } = storeFor();
    const claimed = deadLetter(Date.now() - 10);
    const replayed = deadLetter(Date.now());
    for (const entry of [claimed, replayed]) await store.add(entry);
    const claim = await store.claimReplay(claimed.id);
    expect(await store.discard(claimed.id)).toBe('in-progress');
    if (claim.state !== 'claimed') throw new Error(`claimed: ${claim.state}`);
    await store.releaseReplay(claimed.id, claim.token);
    expect(await store.discard(claimed.id)).toBe('discarded');
    await store.markReplayed(replayed.id, 'new-1');
    expect(await store.discard(replayed.id)).toBe('discarded');
    expect(await store.count()).toBe(0);
  });

  it('closes twice without complaint', async () => {
    const { store } = storeFor();
    await store.count();
    await Promise.all([store.close(), store.close()]);
    await store.close();
  });
});
