import type Redis from 'ioredis';
import { connectRedis } from './connect';

/** One entry of a work stream: its id (settle() takes it) and its fields. */
export interface StreamEntry {
  entryId: string;
  fields: Record<string, string>;
}

/**
 * Work that must be done at least once, as a Redis stream read through a consumer group: whoever
 * writes an entry, any worker takes it, and the entry leaves only when its work settled. An entry
 * a worker took and never settled (it died, or stopped mid-way) is claimed by another once it has
 * been idle long enough. The callback outbox and the batch completions are two.
 */
export class RedisWorkStream {
  private readonly redis: Redis;
  /** Blocking reads get a connection of their own, so they never hold up add() and settle(). */
  private readonly reader: Redis;
  private closing?: Promise<void>;

  constructor(
    url: string,
    private readonly key: string,
    private readonly group: string,
  ) {
    this.redis = connectRedis(url);
    this.reader = connectRedis(url, 0);
  }

  async add(fields: Record<string, string>): Promise<void> {
    await this.redis.xadd(this.key, '*', ...Object.entries(fields).flat());
  }

  /** Up to `count` entries no worker has taken yet, waiting up to `blockMs` for one. */
  async take(consumer: string, count: number, blockMs: number): Promise<StreamEntry[]> {
    await this.ensureGroup();
    const reply = (await this.forgetGroupOnNoGroup(
      this.reader.xreadgroup(
        'GROUP',
        this.group,
        consumer,
        'COUNT',
        count,
        'BLOCK',
        blockMs,
        'STREAMS',
        this.key,
        '>',
      ),
    )) as [string, [string, string[]][]][] | null;
    return toEntries(reply?.[0]?.[1] ?? []);
  }

  /** Up to `count` entries another worker took and left unsettled for `idleMs`, now this one's. */
  async claimAbandoned(consumer: string, idleMs: number, count: number): Promise<StreamEntry[]> {
    await this.ensureGroup();
    const [, claimed] = (await this.redis.xautoclaim(
      this.key,
      this.group,
      consumer,
      idleMs,
      '0-0',
      'COUNT',
      count,
    )) as [string, [string, string[] | null][]];
    // A claimed id whose entry was deleted meanwhile comes back without fields: nothing to do.
    return toEntries(claimed.filter((e): e is [string, string[]] => e[1] !== null));
  }

  /**
   * Hands entries this consumer took back for any worker to claim now, as if idle for `idleMs`
   * (a worker stopping mid-way; otherwise they would wait out their claim time).
   */
  async release(consumer: string, entryIds: string[], idleMs: number): Promise<void> {
    if (entryIds.length === 0) return;
    await this.redis.xclaim(this.key, this.group, consumer, 0, ...entryIds, 'IDLE', idleMs, 'JUSTID');
  }

  /** The work settled: the entry leaves the stream. */
  async settle(entryId: string): Promise<void> {
    await this.redis.multi().xack(this.key, this.group, entryId).xdel(this.key, entryId).exec();
  }

  /** Entries not settled yet, taken or not. */
  waiting(): Promise<number> {
    return this.redis.xlen(this.key);
  }

  close(): Promise<void> {
    this.closing ??= Promise.all(
      [this.redis, this.reader].map((r) =>
        r.quit().then(
          () => undefined,
          () => r.disconnect(),
        ),
      ),
    ).then(() => undefined);
    return this.closing;
  }

  private groupReady = false;

  /** The stream and its group are gone (Redis was flushed): make them again on the next call. */
  private async forgetGroupOnNoGroup<T>(command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (err) {
      if (String(err).includes('NOGROUP')) this.groupReady = false;
      throw err;
    }
  }

  /** From the stream's first entry: entries written before any worker created the group count too. */
  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      await this.redis.xgroup('CREATE', this.key, this.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err;
    }
    this.groupReady = true;
  }
}

function toEntries(raw: [string, string[]][]): StreamEntry[] {
  return raw.map(([entryId, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { entryId, fields };
  });
}
