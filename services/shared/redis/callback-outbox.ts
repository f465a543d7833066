import type Redis from 'ioredis';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';

/** One callback to deliver: the task whose outcome it reports, and where. */
export interface OutboxEntry {
  /** The stream entry's id: settle() takes it. */
  entryId: string;
  taskId: string;
  url: string;
}

const GROUP = 'deliverers';

/**
 * The completion callbacks waiting for delivery, as a Redis stream read through a consumer group:
 * a worker writes an entry once the task's outcome is final, any worker delivers it, and the
 * entry leaves only when its delivery settled (delivered or given up). An entry a worker took and
 * never settled (it died, or stopped mid-delivery) is claimed by another once it has been idle
 * long enough: every callback goes out at least once.
 */
export class CallbackOutbox {
  private readonly redis: Redis;
  /** Blocking reads get a connection of their own, so they never hold up enqueue() and settle(). */
  private readonly reader: Redis;
  private readonly key: string;
  private closing?: Promise<void>;

  constructor(url: string, queue: string) {
    this.key = new RedisKeys(queue).callbackOutbox();
    this.redis = connectRedis(url);
    this.reader = connectRedis(url, 0);
  }

  async enqueue(taskId: string, url: string): Promise<void> {
    await this.redis.xadd(this.key, '*', 'task', taskId, 'url', url);
  }

  /** Up to `count` entries no worker has taken yet, waiting up to `blockMs` for one. */
  async take(consumer: string, count: number, blockMs: number): Promise<OutboxEntry[]> {
    await this.ensureGroup();
    const reply = (await this.forgetGroupOnNoGroup(
      this.reader.xreadgroup(
        'GROUP',
        GROUP,
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
  async claimAbandoned(consumer: string, idleMs: number, count: number): Promise<OutboxEntry[]> {
    await this.ensureGroup();
    const [, claimed] = (await this.redis.xautoclaim(
      this.key,
      GROUP,
      consumer,
      idleMs,
      '0-0',
      'COUNT',
      count,
    )) as [string, [string, string[] | null][]];
    // A claimed id whose entry was deleted meanwhile comes back without fields: nothing to send.
    return toEntries(claimed.filter((e): e is [string, string[]] => e[1] !== null));
  }

  /**
   * Hands entries this consumer took back for any worker to claim now, as if idle for `idleMs`
   * (a worker stopping mid-delivery; otherwise they would wait out claimIdleMs).
   */
  async release(consumer: string, entryIds: string[], idleMs: number): Promise<void> {
    if (entryIds.length === 0) return;
    await this.redis.xclaim(this.key, GROUP, consumer, 0, ...entryIds, 'IDLE', idleMs, 'JUSTID');
  }

  /** The delivery settled: the entry leaves the stream. */
  async settle(entryId: string): Promise<void> {
    await this.redis.multi().xack(this.key, GROUP, entryId).xdel(this.key, entryId).exec();
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
      await this.redis.xgroup('CREATE', this.key, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err;
    }
    this.groupReady = true;
  }
}

function toEntries(raw: [string, string[]][]): OutboxEntry[] {
  return raw.map(([entryId, fields]) => {
    const field = (name: string) => fields[fields.indexOf(name) + 1] ?? '';
    return { entryId, taskId: field('task'), url: field('url') };
  });
}
