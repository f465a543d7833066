import { createHash, randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { DeadLetter, DeadLetterReason } from '../dead-letter';
import { tenantOf } from '../tenancy/tenant';
import { connectRedis } from './connect';
import { COMPARE_AND_SET_LUA, DISCARD_LUA, FORGET_IF_EXPIRED_LUA, RESTORE_LUA } from './dead-letter-scripts';
import { decodeCursor, encodeCursor, pairs, type Position } from './dead-letter-cursor';
import { RedisKeys } from './keys';

export { InvalidCursorError } from './dead-letter-cursor';

export interface DeadLetterPage {
  /** Newest first. */
  items: DeadLetter[];
  /** Pass it back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** What a replay claim found; only `claimed` may submit the task again. */
export type ReplayClaim =
  | { state: 'claimed'; entry: DeadLetter & { task: NonNullable<DeadLetter['task']> }; token: string }
  | { state: 'missing' }
  /** Poison: there is no task to run again. */
  | { state: 'not-replayable' }
  | { state: 'replayed'; replayedAs: string }
  /** Another replay of it holds the claim now. */
  | { state: 'in-progress' };

/** Which dead letters an operation is about; every field narrows it, none: all of them. */
export interface DeadLetterFilter {
  reason?: DeadLetterReason;
  /** The task's type, exactly (poison has none: a type leaves it out). */
  type?: string;
  /** Only this tenant's (poison has none: a tenant leaves it out). */
  tenant?: string;
}

export interface ListOptions extends DeadLetterFilter {
  limit: number;
  cursor?: string;
  /**
   * Stop the page before its entries' JSON passes this many bytes (one entry always fits): a
   * page of 200 letters with 1 MiB payloads would otherwise be 200 MiB in the API's memory.
   */
  maxBytes?: number;
  /**
   * Stop after examining this many entries, or this many bytes of them, even if the page is not
   * full: a filter matching few letters would otherwise read the whole index in one request. The
   * page then ends early with a cursor after the last entry examined.
   */
  examine?: { entries: number; bytes: number };
}

/** Entries read from Redis per round trip: few, so a page's budget bounds what is held too. */
const READ_CHUNK = 16;
/** Per round trip when a filter skips most of what it reads (bounds what is held at once as well). */
const SCAN_CHUNK = 64;
/** Ids per MGET when reading or acting on many. */
const ID_CHUNK = 100;

/** Whether `entry` is one `filter` is about. */
export function matchesFilter(entry: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.reason === undefined || entry.reason === filter.reason) &&
    (filter.type === undefined || entry.task?.type === filter.type) &&
    (filter.tenant === undefined || (entry.task !== undefined && tenantOf(entry.task) === filter.tenant))
  );
}

/** Where dead letters are indexed for the API. RedisDeadLetterStore is the real one. */
export interface DeadLetterStore {
  /** Indexes a dead letter; adding an id again replaces it (its replay state included). */
  add(entry: DeadLetter): Promise<void>;
  /** Throws InvalidCursorError for a cursor it did not issue. */
  list(options: ListOptions): Promise<DeadLetterPage>;
  /**
   * Every entry `filter` matches, newest first, a chunk at a time (an empty chunk may come: it
   * held only entries the filter skips). The index is read as it is when each chunk is read.
   */
  scan(filter: DeadLetterFilter): AsyncIterable<DeadLetter[]>;
  get(id: string): Promise<DeadLetter | undefined>;
  /** The entries of `ids`, in order; undefined where there is none. */
  getMany(ids: readonly string[]): Promise<(DeadLetter | undefined)[]>;
  /**
   * Indexes an entry read back from the dead-letter topic, unless Redis has it (with its replay
   * state), it was discarded, or it is older than the TTL.
   */
  restore(entry: DeadLetter): Promise<'restored' | 'present' | 'discarded' | 'expired'>;
  /**
   * Reserves an entry for one replay, so two concurrent replays cannot both submit it. An entry
   * `mayReplay` refuses (another tenant's) is `missing`.
   */
  claimReplay(id: string, mayReplay?: (entry: DeadLetter) => boolean): Promise<ReplayClaim>;
  /** Drops a claim whose replay submitted nothing, so the entry may be replayed later. */
  releaseReplay(id: string, token: string): Promise<void>;
  /** Records the task that re-ran the entry; false if it was already replayed (or is gone). */
  markReplayed(id: string, newTaskId: string): Promise<boolean>;
  /**
   * Removes an entry from Redis and remembers it as discarded (restore leaves it out) until it
   * would have expired. One `mayDiscard` refuses is `missing`; one a replay holds, `in-progress`.
   */
  discard(id: string, mayDiscard?: (entry: DeadLetter) => boolean): Promise<DiscardResult>;
  /** Dead letters younger than the TTL. */
  count(): Promise<number>;
  close(): Promise<void>;
}

export type DiscardResult = 'discarded' | 'missing' | 'in-progress';

export interface RedisDeadLetterStoreOptions {
  url: string;
  queue: string;
  /** How long an entry is kept after it was added. */
  ttlSeconds: number;
  /** How long a replay claim lasts if its request dies (default 120): it must outlive the submission. */
  replayClaimSeconds?: number;
}

/** The stored JSON: a DeadLetter plus the claim of a replay under way, which callers never see. */
interface Stored extends DeadLetter {
  replayClaim?: { token: string; until: number };
}

export class RedisDeadLetterStore implements DeadLetterStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private closing?: Promise<void>;

  constructor(private readonly options: RedisDeadLetterStoreOptions) {
    this.keys = new RedisKeys(options.queue);
    this.redis = connectRedis(options.url);
    this.redis.defineCommand('deadLetterCompareAndSet', { numberOfKeys: 1, lua: COMPARE_AND_SET_LUA });
    this.redis.defineCommand('deadLetterForgetIfExpired', { numberOfKeys: 2, lua: FORGET_IF_EXPIRED_LUA });
    this.redis.defineCommand('deadLetterDiscard', { numberOfKeys: 4, lua: DISCARD_LUA });
    this.redis.defineCommand('deadLetterRestore', { numberOfKeys: 4, lua: RESTORE_LUA });
  }

  async add(entry: DeadLetter): Promise<void> {
    const { ttlSeconds } = this.options;
    const transaction = this.redis
      .multi()
      .set(this.keys.deadLetter(entry.id), JSON.stringify(entry), 'EX', ttlSeconds);
    for (const index of this.indexesOf(entry)) {
      transaction
        .zadd(index, entry.deadAt, entry.id)
        // The index would otherwise keep the ids of entries nobody lists again forever.
        .zremrangebyscore(index, '-inf', `(${this.oldestLiving()}`);
    }
    const results = await transaction.exec();
    const failed = results?.find(([err]) => err)?.[0];
    if (!results || failed) throw failed ?? new Error('dead letter not added: transaction aborted');
  }

  async restore(entry: DeadLetter): Promise<'restored' | 'present' | 'discarded' | 'expired'> {
    // Kept as long as if it had never been lost: TTL seconds after it died.
    const ttlMs = entry.deadAt + this.options.ttlSeconds * 1000 - Date.now();
    if (ttlMs <= 0) return 'expired';
    const [index, tenantIndex] = this.indexesOf(entry);
    return this.redis.deadLetterRestore(
      this.keys.deadLetter(entry.id),
      this.keys.discardedDeadLetters(),
      index!,
      tenantIndex ?? index!,
      JSON.stringify(entry),
      ttlMs,
      entry.id,
      entry.deadAt,
    );
  }

  async list(options: ListOptions): Promise<DeadLetterPage> {
    const { limit, cursor, maxBytes = Infinity } = options;
    const { entries: maxEntries, bytes: maxExamined } = options.examine ?? {
      entries: Infinity,
      bytes: Infinity,
    };
    const filtered = options.reason !== undefined || options.type !== undefined;
    const items: { entry: DeadLetter; at: Position }[] = [];
    let bytes = 0;
    /** Set when the byte budget ended the page before `limit`: more entries follow. */
    let full = false;
    const examined = { entries: 0, bytes: 0, last: undefined as Position | undefined };
    const outOfBudget = () => examined.entries >= maxEntries || examined.bytes >= maxExamined;
    // One more than asked tells whether a next page exists (unfiltered, reading no more than that).
    const chunk = () =>
      Math.min(
        filtered ? SCAN_CHUNK : Math.min(limit + 1 - items.length, READ_CHUNK),
        maxEntries - examined.entries,
      );
    const start = cursor === undefined ? undefined : decodeCursor(cursor);
    for await (const { at, value } of this.read(this.keys.deadLetters(options.tenant), start, chunk)) {
      if (value !== null) {
        const entry = visible(JSON.parse(value) as Stored);
        if (matchesFilter(entry, options)) {
          if (items.length > 0 && items.length < limit && bytes + value.length > maxBytes) {
            full = true;
            break;
          }
          items.push({ entry, at });
          bytes += value.length;
        }
      }
      examined.entries++;
      examined.bytes += value?.length ?? 0;
      examined.last = at;
      if (items.length > limit || outOfBudget()) break;
    }
    const page = items.slice(0, limit);
    const last = full || items.length > limit ? page.at(-1)?.at : outOfBudget() ? examined.last : undefined;
    return {
      items: page.map(({ entry }) => entry),
      nextCursor: last ? encodeCursor(last) : null,
    };
  }

  async *scan(filter: DeadLetterFilter): AsyncIterable<DeadLetter[]> {
    // The tenant's own index holds only its letters: no need to read everyone's.
    const index = this.keys.deadLetters(filter.tenant);
    let matched: DeadLetter[] = [];
    for await (const { value, last } of this.read(index, undefined, () => SCAN_CHUNK)) {
      if (value !== null) {
        const entry = visible(JSON.parse(value) as Stored);
        if (matchesFilter(entry, filter)) matched.push(entry);
      }
      if (last) {
        yield matched;
        matched = [];
      }
    }
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const value = await this.redis.get(this.keys.deadLetter(id));
    return value === null ? undefined : visible(JSON.parse(value) as Stored);
  }

  async getMany(ids: readonly string[]): Promise<(DeadLetter | undefined)[]> {
    const found: (DeadLetter | undefined)[] = [];
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const values = await this.redis.mget(ids.slice(i, i + ID_CHUNK).map((id) => this.keys.deadLetter(id)));
      for (const value of values)
        found.push(value === null ? undefined : visible(JSON.parse(value) as Stored));
    }
    return found;
  }

  claimReplay(id: string, mayReplay: (entry: DeadLetter) => boolean = () => true): Promise<ReplayClaim> {
    const now = Date.now();
    const token = randomUUID();
    return this.update<ReplayClaim>(id, (stored) => {
      if (!stored || !mayReplay(visible(stored))) return { result: { state: 'missing' } };
      if (stored.replayedAs !== undefined)
        return { result: { state: 'replayed', replayedAs: stored.replayedAs } };
      if (!stored.task) return { result: { state: 'not-replayable' } };
      if (stored.replayClaim && stored.replayClaim.until > now) return { result: { state: 'in-progress' } };
      const until = now + (this.options.replayClaimSeconds ?? 120) * 1000;
      const entry = { ...visible(stored), task: stored.task };
      return {
        next: { ...stored, replayClaim: { token, until } },
        result: { state: 'claimed', entry, token },
      };
    });
  }

  async releaseReplay(id: string, token: string): Promise<void> {
    await this.update(id, (stored) => {
      if (stored?.replayClaim?.token !== token) return { result: undefined };
      return { next: visible(stored), result: undefined };
    });
  }

  markReplayed(id: string, newTaskId: string): Promise<boolean> {
    return this.update(id, (stored) => {
      if (!stored || stored.replayedAs !== undefined) return { result: false };
      return { next: { ...visible(stored), replayedAs: newTaskId }, result: true };
    });
  }

  async discard(id: string, mayDiscard: (entry: DeadLetter) => boolean = () => true): Promise<DiscardResult> {
    const key = this.keys.deadLetter(id);
    for (let attempt = 0; attempt < 10; attempt++) {
      const raw = await this.redis.getBuffer(key);
      if (raw === null) return 'missing';
      const stored = JSON.parse(raw.toString('utf8')) as Stored;
      if (!mayDiscard(visible(stored))) return 'missing';
      // Its task is on its way to Kafka: the replay must be able to record it.
      if (stored.replayClaim && stored.replayClaim.until > Date.now()) return 'in-progress';
      const [index, tenantIndex] = this.indexesOf(stored);
      const done = await this.redis.deadLetterDiscard(
        key,
        this.keys.discardedDeadLetters(),
        index!,
        tenantIndex ?? index!,
        createHash('sha1').update(raw).digest('hex'),
        id,
        stored.deadAt,
        this.oldestLiving(),
      );
      if (done === 1) return 'discarded';
      if (done === -1) return 'missing';
    }
    throw new Error(`dead letter ${id} kept changing; not discarded`);
  }

  count(): Promise<number> {
    return this.redis.zcount(this.keys.deadLetters(), `(${this.oldestLiving()}`, '+inf');
  }

  close(): Promise<void> {
    this.closing ??= this.redis.quit().then(
      () => undefined,
      () => this.redis.disconnect(),
    );
    return this.closing;
  }

  /** The deadAt before which an entry's JSON has expired (entries are added as they die). */
  private oldestLiving(): number {
    return Date.now() - this.options.ttlSeconds * 1000;
  }

  /** The indexes listing `entry`: every dead letter's, and its tenant's if it has a task. */
  private indexesOf(entry: DeadLetter): string[] {
    const all = this.keys.deadLetters();
    return entry.task ? [all, this.keys.deadLetters(tenantOf(entry.task))] : [all];
  }

  /**
   * The entries of `index` after `after` (from the newest when absent), newest first, `size()`
   * per round trip (0: stop); `value` null for one whose JSON expired, which is unindexed on the
   * way. Positions, never offsets: arrivals and removals meanwhile cannot shift what comes next.
   */
  private async *read(
    index: string,
    after: Position | undefined,
    size: () => number,
  ): AsyncGenerator<{ at: Position; value: string | null; last: boolean }> {
    for (let count = size(); count > 0; count = size()) {
      const candidates = await this.indexAfter(index, after, count);
      if (candidates.length === 0) return;
      const values = await this.redis.mget(candidates.map(({ id }) => this.keys.deadLetter(id)));
      await Promise.all(
        candidates
          .filter((_, i) => values[i] === null)
          .map(({ id }) => this.redis.deadLetterForgetIfExpired(index, this.keys.deadLetter(id), id)),
      );
      for (const [i, at] of candidates.entries()) {
        yield { at, value: values[i] ?? null, last: i === candidates.length - 1 };
      }
      after = candidates.at(-1);
    }
  }

  /** Up to `count` members of `index` after `after` (all from the newest when absent), newest first. */
  private async indexAfter(index: string, after: Position | undefined, count: number): Promise<Position[]> {
    if (!after)
      return pairs(await this.redis.zrevrangebyscore(index, '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, count));
    // Members of one score sort by id; those sharing the cursor's millisecond are few, so all are read.
    const [tied, older] = await Promise.all([
      this.redis.zrevrangebyscore(index, after.score, after.score, 'WITHSCORES'),
      this.redis.zrevrangebyscore(index, `(${after.score}`, '-inf', 'WITHSCORES', 'LIMIT', 0, count),
    ]);
    const before = Buffer.from(after.id);
    const tiedAfter = pairs(tied).filter(({ id }) => Buffer.compare(Buffer.from(id), before) < 0);
    return [...tiedAfter, ...pairs(older)].slice(0, count);
  }

  /**
   * Read, decide, write back only if nothing changed meanwhile; else decide again on what is
   * there now. `next` absent: nothing to write.
   */
  private async update<T>(
    id: string,
    decide: (stored: Stored | undefined) => { next?: Stored; result: T },
  ): Promise<T> {
    const key = this.keys.deadLetter(id);
    for (let attempt = 0; attempt < 10; attempt++) {
      const raw = await this.redis.getBuffer(key);
      const { next, result } = decide(
        raw === null ? undefined : (JSON.parse(raw.toString('utf8')) as Stored),
      );
      if (!next || raw === null) return result;
      const sha1 = createHash('sha1').update(raw).digest('hex');
      if ((await this.redis.deadLetterCompareAndSet(key, sha1, JSON.stringify(next))) === 1) return result;
    }
    throw new Error(`dead letter ${id} kept changing; not updated`);
  }
}

function visible(stored: Stored): DeadLetter {
  const { replayClaim: _claim, ...entry } = stored;
  return entry;
}
