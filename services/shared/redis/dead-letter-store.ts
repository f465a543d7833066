import { createHash, randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { DeadLetter } from '../dead-letter';
import { tenantOf } from '../tenancy/tenant';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in RedisDeadLetterStore's constructor from COMPARE_AND_SET_LUA. */
    deadLetterCompareAndSet(key: string, expectedSha1: string, json: string): Result<number, Context>;
    /** Defined in RedisDeadLetterStore's constructor from FORGET_IF_EXPIRED_LUA. */
    deadLetterForgetIfExpired(index: string, entry: string, id: string): Result<number, Context>;
  }
}

/**
 * Replaces an entry only if it is still the exact bytes the caller read (an optimistic lock
 * that, unlike WATCH, works on a connection shared by concurrent requests). The change itself is made in
 * JavaScript: cjson would re-encode the payload (empty arrays become objects, numbers lose digits).
 */
const COMPARE_AND_SET_LUA = `
local current = redis.call('GET', KEYS[1])
if not current or redis.sha1hex(current) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1`;

/** Unindexes an id whose JSON expired, unless a re-add brought it back since it was read. */
const FORGET_IF_EXPIRED_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('ZREM', KEYS[1], ARGV[1])`;

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

/** A cursor that is not one this store issued. */
export class InvalidCursorError extends Error {
  constructor() {
    super('not a cursor from a previous page');
    this.name = 'InvalidCursorError';
  }
}

export interface ListOptions {
  limit: number;
  cursor?: string;
  /** Only this tenant's; absent: every dead letter, poison included. */
  tenant?: string;
  /**
   * Stop the page before its entries' JSON passes this many bytes (one entry always fits): a
   * page of 200 letters with 1 MiB payloads would otherwise be 200 MiB in the API's memory.
   */
  maxBytes?: number;
}

/** Entries read from Redis per round trip: few, so a page's budget bounds what is held too. */
const READ_CHUNK = 16;

/** Where dead letters are indexed for the API. RedisDeadLetterStore is the real one. */
export interface DeadLetterStore {
  /** Indexes a dead letter; adding an id again replaces it (its replay state included). */
  add(entry: DeadLetter): Promise<void>;
  /** Throws InvalidCursorError for a cursor it did not issue. */
  list(options: ListOptions): Promise<DeadLetterPage>;
  get(id: string): Promise<DeadLetter | undefined>;
  /**
   * Indexes an entry read back from the dead-letter topic, unless Redis has it (with its replay
   * state) or it is older than the TTL: `restored`, `present` or `expired`.
   */
  restore(entry: DeadLetter): Promise<'restored' | 'present' | 'expired'>;
  /**
   * Reserves an entry for one replay, so two concurrent replays cannot both submit it. An entry
   * `mayReplay` refuses (another tenant's) is `missing`.
   */
  claimReplay(id: string, mayReplay?: (entry: DeadLetter) => boolean): Promise<ReplayClaim>;
  /** Drops a claim whose replay submitted nothing, so the entry may be replayed later. */
  releaseReplay(id: string, token: string): Promise<void>;
  /** Records the task that re-ran the entry; false if it was already replayed (or is gone). */
  markReplayed(id: string, newTaskId: string): Promise<boolean>;
  /** Dead letters younger than the TTL. */
  count(): Promise<number>;
  close(): Promise<void>;
}

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

  async restore(entry: DeadLetter): Promise<'restored' | 'present' | 'expired'> {
    // Kept as long as if it had never been lost: TTL seconds after it died.
    const ttlMs = entry.deadAt + this.options.ttlSeconds * 1000 - Date.now();
    if (ttlMs <= 0) return 'expired';
    // One round trip; indexed either way (indexing again what is indexed changes nothing).
    const transaction = this.redis
      .multi()
      .set(this.keys.deadLetter(entry.id), JSON.stringify(entry), 'PX', ttlMs, 'NX');
    for (const index of this.indexesOf(entry)) transaction.zadd(index, entry.deadAt, entry.id);
    const results = await transaction.exec();
    const failed = results?.find(([err]) => err)?.[0];
    if (!results || failed) throw failed ?? new Error('dead letter not restored: transaction aborted');
    return results[0]![1] === 'OK' ? 'restored' : 'present';
  }

  async list({ limit, cursor, tenant, maxBytes = Infinity }: ListOptions): Promise<DeadLetterPage> {
    const index = this.keys.deadLetters(tenant);
    let after = cursor === undefined ? undefined : decodeCursor(cursor);
    const items: { entry: DeadLetter; score: string }[] = [];
    let bytes = 0;
    /** Set when the byte budget ended the page before `limit`: more entries follow. */
    let full = false;
    // One more than asked tells whether a next page exists. Expired entries leave gaps, so this
    // repeats from the last id examined (never an offset: arrivals and removals cannot shift it).
    while (items.length <= limit && !full) {
      const candidates = await this.indexAfter(index, after, Math.min(limit + 1 - items.length, READ_CHUNK));
      if (candidates.length === 0) break;
      const values = await this.redis.mget(candidates.map(({ id }) => this.keys.deadLetter(id)));
      const expired: string[] = [];
      for (const [i, candidate] of candidates.entries()) {
        const value = values[i];
        if (!value) {
          expired.push(candidate.id);
          continue;
        }
        if (items.length > 0 && items.length < limit && bytes + value.length > maxBytes) {
          full = true;
          break;
        }
        items.push({ entry: visible(JSON.parse(value) as Stored), score: candidate.score });
        bytes += value.length;
      }
      await Promise.all(
        expired.map((id) => this.redis.deadLetterForgetIfExpired(index, this.keys.deadLetter(id), id)),
      );
      after = candidates.at(-1);
    }
    const page = items.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(({ entry }) => entry),
      nextCursor: (full || items.length > limit) && last ? encodeCursor(last.score, last.entry.id) : null,
    };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const value = await this.redis.get(this.keys.deadLetter(id));
    return value === null ? undefined : visible(JSON.parse(value) as Stored);
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

interface Position {
  score: string;
  id: string;
}

/** [id, score, id, score, ...] as WITHSCORES answers. */
function pairs(flat: string[]): Position[] {
  const out: Position[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, score: flat[i + 1]! });
  return out;
}

function visible(stored: Stored): DeadLetter {
  const { replayClaim: _claim, ...entry } = stored;
  return entry;
}

// The score and id of the last item shown: the next page starts after it, whatever arrived since.
function encodeCursor(score: string, id: string): string {
  return Buffer.from(JSON.stringify([Number(score), id])).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw new InvalidCursorError();
  const [score, id] = parsed as unknown[];
  if (typeof score !== 'number' || !Number.isFinite(score) || typeof id !== 'string' || id === '') {
    throw new InvalidCursorError();
  }
  // String(number) round-trips a double exactly, so the tie query matches the stored score.
  return { score: String(score), id };
}
