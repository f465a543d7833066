import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import { SCHEDULE_STATES, type Schedule, type ScheduleState } from '../schedules/schedule';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in RedisScheduleStore's constructor from ADVANCE_LUA. */
    scheduleAdvance(
      schedule: string,
      due: string,
      id: string,
      revision: number,
      fromCursor: number,
      toCursor: number,
      nextTickAt: string,
      lastFiredAt: string,
    ): Result<number, Context>;
    /** Defined from UPDATE_LUA. */
    scheduleUpdate(
      schedule: string,
      due: string,
      id: string,
      definition: string,
      cursor: string,
      nextTickAt: string,
    ): Result<number, Context>;
    /** Defined from RELEASE_LUA. */
    scheduleRelease(lease: string, holder: string): Result<number, Context>;
  }
}

/** A schedule as stored: its definition and where its firing stands. */
export interface StoredSchedule {
  schedule: Schedule;
  /** Ticks up to here (epoch ms) are handled; see the glossary in schedules/schedule.ts. */
  cursor: number;
  /** Bumped by every change of the definition: a firer's advance made under an older one is refused. */
  revision: number;
  /** The newest tick fired so far, if any. */
  lastFiredAt?: number;
}

/** Where the firing of a schedule moves to once its ticks are published (ScheduleStore.advance). */
export interface Advance {
  /** The revision and cursor the firer read: if either changed since, nothing is written. */
  revision: number;
  fromCursor: number;
  toCursor: number;
  /** When it is due next; undefined: never again (taken off the due set). */
  nextTickAt: number | undefined;
  /** The newest tick this firing published, if any. */
  lastFiredAt: number | undefined;
}

/** A change of a schedule's timing or state: firing starts again from `cursor`. */
export interface Restart {
  cursor: number;
  /** undefined: not due at all (paused, or no tick follows). */
  nextTickAt: number | undefined;
}

/**
 * Where schedules live: Redis, beside the task records, with no TTL. The chart runs Redis with an
 * append-only file (fsync every second) on a persistent volume and `noeviction`, so a schedule
 * survives restarts of the API, the workers and Redis itself (docs/schedules.md#where-schedules-live).
 */
export interface ScheduleStore {
  create(schedule: Schedule, start: Restart): Promise<void>;
  get(id: string): Promise<StoredSchedule | undefined>;
  /** Oldest first: one tenant's, or every tenant's (undefined). */
  list(tenant?: string): Promise<StoredSchedule[]>;
  /** Replaces the definition; `restart` moves the cursor and due time, else both stay. False: no such schedule. */
  update(schedule: Schedule, restart?: Restart): Promise<boolean>;
  /** False: no such schedule. */
  delete(id: string): Promise<boolean>;
  /** Ids of active schedules whose next tick is at or before `now`, most overdue first. */
  due(now: number, limit: number): Promise<string[]>;
  /** Takes the right to fire one schedule for `ms`, unless another holder has it. */
  lease(id: string, holder: string, ms: number): Promise<boolean>;
  /** Gives the lease up, if `holder` still has it. */
  release(id: string, holder: string): Promise<void>;
  /** Moves the cursor from what the firer read (compare-and-set); false when it changed meanwhile. */
  advance(id: string, advance: Advance): Promise<boolean>;
  countByState(): Promise<Record<ScheduleState, number>>;
  close(): Promise<void>;
}

/** KEYS [1] schedule hash [2] due set; ARGV [1] id [2] revision [3] from [4] to [5] next ('' none) [6] last fired ('' none). */
const ADVANCE_LUA = `
local stored = redis.call('HMGET', KEYS[1], 'revision', 'cursor')
if not stored[1] or stored[1] ~= ARGV[2] or stored[2] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[4])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'lastFiredAt', ARGV[6]) end
if ARGV[5] == '' then redis.call('ZREM', KEYS[2], ARGV[1]) else redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1]) end
return 1
`;

/**
 * KEYS [1] schedule hash [2] due set; ARGV [1] id [2] definition JSON [3] cursor ('' keep)
 * [4] next tick ('' not due; ignored when the cursor is kept). Returns 0 when there is no such schedule.
 */
const UPDATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'definition', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'revision', 1)
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'cursor', ARGV[3])
  if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[1]) else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
end
return 1
`;

/** KEYS [1] lease; ARGV [1] holder. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Most schedules one list answer holds: bounds the API's memory (and a tenant's schedules). */
export const MAX_LISTED_SCHEDULES = 1000;

export class RedisScheduleStore implements ScheduleStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private closing?: Promise<void>;

  constructor(options: { url: string; queue: string }) {
    this.keys = new RedisKeys(options.queue);
    this.redis = connectRedis(options.url);
    this.redis.defineCommand('scheduleAdvance', { lua: ADVANCE_LUA, numberOfKeys: 2 });
    this.redis.defineCommand('scheduleUpdate', { lua: UPDATE_LUA, numberOfKeys: 2 });
    this.redis.defineCommand('scheduleRelease', { lua: RELEASE_LUA, numberOfKeys: 1 });
  }

  async create(schedule: Schedule, start: Restart): Promise<void> {
    const multi = this.redis
      .multi()
      .hset(this.keys.schedule(schedule.id), {
        definition: JSON.stringify(schedule),
        cursor: String(start.cursor),
        revision: '1',
      })
      .zadd(this.keys.schedules(), schedule.createdAt, schedule.id)
      .zadd(this.keys.schedules(schedule.tenant), schedule.createdAt, schedule.id);
    if (start.nextTickAt !== undefined) multi.zadd(this.keys.schedulesDue(), start.nextTickAt, schedule.id);
    await multi.exec();
  }

  async get(id: string): Promise<StoredSchedule | undefined> {
    return storedOf(await this.redis.hgetall(this.keys.schedule(id)));
  }

  async list(tenant?: string): Promise<StoredSchedule[]> {
    const ids = await this.redis.zrange(this.keys.schedules(tenant), 0, MAX_LISTED_SCHEDULES - 1);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.schedule(id));
    const replies = (await pipeline.exec()) ?? [];
    // One deleted between the two reads is left out.
    return replies.flatMap(([err, fields]) => {
      if (err) throw err;
      const stored = storedOf(fields as Record<string, string>);
      return stored ? [stored] : [];
    });
  }

  async update(schedule: Schedule, restart?: Restart): Promise<boolean> {
    const applied = await this.redis.scheduleUpdate(
      this.keys.schedule(schedule.id),
      this.keys.schedulesDue(),
      schedule.id,
      JSON.stringify(schedule),
      restart ? String(restart.cursor) : '',
      restart?.nextTickAt === undefined ? '' : String(restart.nextTickAt),
    );
    return applied === 1;
  }

  async delete(id: string): Promise<boolean> {
    const stored = await this.get(id);
    if (!stored) return false;
    const replies = await this.redis
      .multi()
      .del(this.keys.schedule(id))
      .zrem(this.keys.schedules(), id)
      .zrem(this.keys.schedules(stored.schedule.tenant), id)
      .zrem(this.keys.schedulesDue(), id)
      .exec();
    return replies?.[0]?.[1] === 1;
  }

  due(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.schedulesDue(), '-inf', now, 'LIMIT', 0, limit);
  }

  async lease(id: string, holder: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.scheduleLease(id), holder, 'PX', ms, 'NX')) === 'OK';
  }

  async release(id: string, holder: string): Promise<void> {
    await this.redis.scheduleRelease(this.keys.scheduleLease(id), holder);
  }

  async advance(id: string, advance: Advance): Promise<boolean> {
    const applied = await this.redis.scheduleAdvance(
      this.keys.schedule(id),
      this.keys.schedulesDue(),
      id,
      advance.revision,
      advance.fromCursor,
      advance.toCursor,
      advance.nextTickAt === undefined ? '' : String(advance.nextTickAt),
      advance.lastFiredAt === undefined ? '' : String(advance.lastFiredAt),
    );
    return applied === 1;
  }

  async countByState(): Promise<Record<ScheduleState, number>> {
    const [all, active] = await Promise.all([
      this.redis.zcard(this.keys.schedules()),
      this.redis.zcard(this.keys.schedulesDue()),
    ]);
    const counts = Object.fromEntries(SCHEDULE_STATES.map((s) => [s, 0])) as Record<ScheduleState, number>;
    // Active schedules are the due set; the rest are paused (or, rarely, have no tick left).
    counts.active = active;
    counts.paused = Math.max(0, all - active);
    return counts;
  }

  close(): Promise<void> {
    this.closing ??= this.redis.quit().then(
      () => undefined,
      () => this.redis.disconnect(),
    );
    return this.closing;
  }
}

function storedOf(fields: Record<string, string>): StoredSchedule | undefined {
  if (!fields.definition) return undefined;
  return {
    schedule: JSON.parse(fields.definition) as Schedule,
    cursor: Number(fields.cursor),
    revision: Number(fields.revision),
    ...(fields.lastFiredAt !== undefined && { lastFiredAt: Number(fields.lastFiredAt) }),
  };
}
