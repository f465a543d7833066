import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { LaneName } from '../lanes/priority';
import type { RateLimit } from '../tenancy/tenant';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in RedisLaneAssigner's constructor from ASSIGN_LUA. */
    assignLanes(...args: (string | number)[]): Result<string[], Context>;
  }
}

/**
 * Picks the lane of each task of one submission, in one script, so that concurrent API replicas
 * agree:
 *
 * - **Spill.** A tenant with a spill allowance (a token bucket: `perSecond`, up to `burst`) sends
 *   the tasks beyond it to the overflow lane, which workers serve with a low weight: a burst no
 *   longer queues in front of everyone else, and still gets every idle slot.
 * - **Keys keep their lane.** A task of an ordering key goes to the lane its key's unfinished
 *   tasks are in, whatever its priority or the allowance says, so a key never runs out of order
 *   because part of it moved lanes. The key's open tasks are a sorted set (scored by when each
 *   entry lapses, TASK_TTL_SECONDS: a task whose record expired unfinished frees its key then);
 *   the transition script takes a task out when it finishes (transition-script.ts).
 *
 * KEYS [1] the tenant's allowance bucket. ARGV [1] tokens per second (0: no spill) [2] burst
 * [3] entry lifetime in ms [4] the keys' prefix, then per task: id, wanted lane, pin ('' for
 * none). Returns the lane of each task, in order.
 */
const ASSIGN_LUA = `
local rate, burst, lifetime, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tokens
if rate > 0 then
  local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
  tokens = tonumber(state[1])
  local at = tonumber(state[2])
  if tokens == nil or at == nil then tokens, at = burst, now end
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
end
local out = {}
for i = 5, #ARGV, 3 do
  local id, lane, pin = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local kept = nil
  if pin ~= '' then
    local open = prefix .. 'key-open:' .. pin
    redis.call('ZREMRANGEBYSCORE', open, '-inf', now)
    if redis.call('ZCARD', open) > 0 then kept = redis.call('GET', prefix .. 'key-lane:' .. pin) end
  end
  -- A kept task still spends the allowance (it is the tenant's volume) but never spills.
  if tokens then
    if tokens >= 1 then tokens = tokens - 1 elseif not kept then lane = 'overflow' end
  end
  if kept then lane = kept end
  if pin ~= '' then
    local open, laneKey = prefix .. 'key-open:' .. pin, prefix .. 'key-lane:' .. pin
    redis.call('ZADD', open, now + lifetime, id)
    redis.call('PEXPIRE', open, lifetime)
    redis.call('SET', laneKey, lane, 'PX', lifetime)
  end
  out[#out + 1] = lane
end
if tokens then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
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

export class RedisLaneAssigner {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(private readonly options: RedisLaneAssignerOptions) {
    this.keys = new RedisKeys(options.queue);
    // Short: on the submission path, and a Redis that does not answer is passed by (fail-open.ts).
    this.redis = connectRedis(options.url, 500);
    this.redis.defineCommand('assignLanes', { numberOfKeys: 1, lua: ASSIGN_LUA });
  }

  /** The lane of each task, in order; `allowance` absent: no spill, keys alone decide. */
  async assign(tenant: string, tasks: readonly LaneRequest[], allowance?: RateLimit): Promise<LaneName[]> {
    const args: (string | number)[] = [
      this.keys.spillAllowance(tenant),
      allowance?.perSecond ?? 0,
      allowance?.burst ?? 0,
      this.options.entryLifetimeMs,
      this.keys.prefix,
    ];
    for (const task of tasks) args.push(task.id, task.wanted, task.pin ?? '');
    return (await this.redis.assignLanes(...args)) as LaneName[];
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
