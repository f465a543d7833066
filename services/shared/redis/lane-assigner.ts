import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { LaneName } from '../lanes/priority';
import type { RateLimit } from '../tenancy/tenant';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';
import { TOKEN_BUCKET_FUNCTIONS_LUA } from './token-bucket-lua';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in RedisLaneAssigner's constructor from ASSIGN_LUA; the key count goes first. */
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
 * KEYS [1] the tenant's allowance bucket, then for each task with a pin, in order: its key's
 * open tasks (sorted set) and its key's lane (string). ARGV [1] tokens per second (0: no spill)
 * [2] burst [3] entry lifetime in ms, then per task: id, wanted lane, '1' when it has a pin.
 * Returns the lane of each task, in order.
 */
const ASSIGN_LUA = `${TOKEN_BUCKET_FUNCTIONS_LUA}
local rate, burst, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = nowMs()
local tokens = rate > 0 and bucketTokens(KEYS[1], rate, burst, now) or nil
local out, k = {}, 2
for i = 4, #ARGV, 3 do
  local id, lane = ARGV[i], ARGV[i + 1]
  local open, laneKey, kept = nil, nil, nil
  if ARGV[i + 2] == '1' then
    open, laneKey, k = KEYS[k], KEYS[k + 1], k + 2
    redis.call('ZREMRANGEBYSCORE', open, '-inf', now)
    if redis.call('ZCARD', open) > 0 then kept = redis.call('GET', laneKey) end
  end
  -- A kept task still spends the allowance (it is the tenant's volume) but never spills.
  if tokens then
    if tokens >= 1 then tokens = tokens - 1 elseif not kept then lane = 'overflow' end
  end
  if kept then lane = kept end
  if open then
    redis.call('ZADD', open, now + lifetime, id)
    redis.call('PEXPIRE', open, lifetime)
    redis.call('SET', laneKey, lane, 'PX', lifetime)
  end
  out[#out + 1] = lane
end
if tokens then bucketSave(KEYS[1], rate, burst, tokens, now) end
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
    // No numberOfKeys: it varies with the tasks that have a pin, and goes first in each call.
    this.redis.defineCommand('assignLanes', { lua: ASSIGN_LUA });
  }

  /** The lane of each task, in order; `allowance` absent: no spill, keys alone decide. */
  async assign(tenant: string, tasks: readonly LaneRequest[], allowance?: RateLimit): Promise<LaneName[]> {
    const keys = [this.keys.spillAllowance(tenant)];
    const args: (string | number)[] = [
      allowance?.perSecond ?? 0,
      allowance?.burst ?? 0,
      this.options.entryLifetimeMs,
    ];
    for (const task of tasks) {
      args.push(task.id, task.wanted, task.pin === undefined ? '' : '1');
      if (task.pin !== undefined) keys.push(this.keys.pinnedTasks(task.pin), this.keys.keyLane(task.pin));
    }
    return (await this.redis.assignLanes(keys.length, ...keys, ...args)) as LaneName[];
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
