import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { LaneName } from '../lanes/priority';
import type { RateLimit } from '../tenancy/tenant';
import { TokenLeases } from '../token-leases';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';
import { RedisTokenBuckets } from './token-buckets';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in RedisLaneAssigner's constructor from KEEP_LANES_LUA; the key count goes first. */
    keepLanes(...args: (string | number)[]): Result<string[], Context>;
  }
}

/**
 * Keys keep their lane: a task of an ordering key goes to the lane its key's unfinished tasks are
 * in, whatever its priority or the spill allowance says, so a key never runs out of order because
 * part of it moved lanes. The key's open tasks are a sorted set (scored by when each entry lapses,
 * TASK_TTL_SECONDS: a task whose record expired unfinished frees its key then); the transition
 * script takes a task out when it finishes (transition-script.ts). One script per submission that
 * has keyed tasks, so concurrent API replicas agree.
 *
 * KEYS: for each task with a pin, in order, its key's open tasks (sorted set) and its key's lane
 * (string). ARGV [1] entry lifetime in ms, then per pinned task: id, the lane it would go to.
 * Returns the lane of each pinned task, in order.
 */
const KEEP_LANES_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lifetime = tonumber(ARGV[1])
local out = {}
for k = 1, #KEYS, 2 do
  local open, laneKey = KEYS[k], KEYS[k + 1]
  local id, lane = ARGV[k + 1], ARGV[k + 2]
  redis.call('ZREMRANGEBYSCORE', open, '-inf', now)
  if redis.call('ZCARD', open) > 0 then lane = redis.call('GET', laneKey) or lane end
  redis.call('ZADD', open, now + lifetime, id)
  redis.call('PEXPIRE', open, lifetime)
  redis.call('SET', laneKey, lane, 'PX', lifetime)
  out[#out + 1] = lane
end
return out`;

/** Takes tasks off their keys' open tasks: a submission that never reached Kafka. */
const UNPIN_LUA = `
for i = 1, #KEYS, 2 do
  redis.call('ZREM', KEYS[i], ARGV[(i + 1) / 2])
  if redis.call('ZCARD', KEYS[i]) == 0 then redis.call('DEL', KEYS[i], KEYS[i + 1]) end
end
return 0`;

export interface LaneRequest {
  id: string;
  /** The lane of its priority. */
  wanted: LaneName;
  /** `<tenant>/<key>` when it has an ordering key (task-store.ts pinOf). */
  pin?: string;
}

export interface RedisLaneAssignerOptions {
  url: string;
  queue: string;
  /** How long a key's open task keeps the key in its lane at most (the records' TTL). */
  entryLifetimeMs: number;
}

/**
 * Picks the lane of each task of a submission. **Spill:** a tenant with a spill allowance (a
 * token bucket: `perSecond`, up to `burst`, token-buckets.ts, spent through this process's
 * leases, token-leases.ts) sends the tasks beyond it to the overflow lane, which workers serve
 * with a low weight: a burst no longer queues in front of everyone else, and still gets every idle
 * slot. **Keys keep their lane** (KEEP_LANES_LUA): a keyed task still spends the allowance (it is
 * the tenant's volume) but goes where its key's open tasks are.
 */
export class RedisLaneAssigner {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly allowances: TokenLeases;

  constructor(private readonly options: RedisLaneAssignerOptions) {
    this.keys = new RedisKeys(options.queue);
    // Short: on the submission path, and a Redis that does not answer is passed by (fail-open.ts).
    this.redis = connectRedis(options.url, 500);
    // No numberOfKeys: it varies with the tasks that have a pin, and goes first in each call.
    this.redis.defineCommand('keepLanes', { lua: KEEP_LANES_LUA });
    this.allowances = new TokenLeases(new RedisTokenBuckets(this.redis));
  }

  /** The lane of each task, in order; `allowance` absent: no spill, keys alone decide. */
  async assign(tenant: string, tasks: readonly LaneRequest[], allowance?: RateLimit): Promise<LaneName[]> {
    const within = allowance
      ? await this.allowances.takeUpTo(this.keys.spillAllowance(tenant), allowance, tasks.length)
      : tasks.length;
    const lanes = tasks.map((task, index): LaneName => (index < within ? task.wanted : 'overflow'));
    const pinned = tasks.flatMap(({ id, pin }, index) => (pin === undefined ? [] : [{ id, pin, index }]));
    if (pinned.length === 0) return lanes;
    const keys = pinned.flatMap(({ pin }) => [this.keys.pinnedTasks(pin), this.keys.keyLane(pin)]);
    const args = pinned.flatMap(({ id, index }) => [id, lanes[index]!]);
    const kept = (await this.redis.keepLanes(
      keys.length,
      ...keys,
      this.options.entryLifetimeMs,
      ...args,
    )) as LaneName[];
    pinned.forEach(({ index }, i) => (lanes[index] = kept[i]!));
    return lanes;
  }

  /** Forgets tasks that hold their keys' lanes but never reached Kafka. */
  async unpin(tasks: readonly { id: string; pin: string }[]): Promise<void> {
    if (tasks.length === 0) return;
    const keys = tasks.flatMap((t) => [this.keys.pinnedTasks(t.pin), this.keys.keyLane(t.pin)]);
    await this.redis.eval(UNPIN_LUA, keys.length, ...keys, ...tasks.map((t) => t.id));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
