import { BATCH_LUA } from './batch-script';
import { INDEX_LUA } from './index-script';

/**
 * Moves task records forward, never backward, atomically inside Redis, and keeps the queue's
 * status counts and waiting set in step with it. Kept as a string (not a .lua file) so the
 * compiled output and the images need nothing beside the JavaScript.
 *
 * `apply(task, counts, waiting, open, a, first, last)` reads one transition's arguments from
 * a[first..last]:
 *   [+0] id  [+1] status  [+2] attempt (-1: any attempt, e.g. a cancellation)  [+3] phase
 *   [+4] ttl seconds  [+5] type  [+6] createdAt  [+7] channel to publish a finish on
 *   [+8] waiting score ('' when the task is not waiting)
 *   [+9] claimant ('' for none)  [+10] claim length in ms  [+11] tenant ('' for the default;
 *   written, like type and createdAt, only when the record is created)
 *   [+12..last] field/value pairs to set
 * and returns {1, previousStatus or ''} when applied, {0, currentStatus or ''} when not, and
 * {2, 'running'} when another claimant's live claim holds this attempt (see CLAIM_LUA).
 *
 * A claim is how a worker says "I run this attempt, and I am alive": the claimant and, on Redis'
 * own clock, until when. A delivery of an attempt that another claimant holds is not run: the
 * worker that lost the partition in a rebalance is still running it.
 */
const APPLY_LUA = `
local function finished(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
end
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function apply(task, counts, waiting, open, a, first, last)
  local id, status, attempt, phase = a[first], a[first + 1], tonumber(a[first + 2]), tonumber(a[first + 3])
  local claimant, claimMs = a[first + 9], tonumber(a[first + 10])
  local current = redis.call('HMGET', task, 'status', 'attempts', 'phase', 'claimant', 'claimedUntil',
    'runAt', 'tenant', 'pin', 'batch', 'createdAt', 'type', 'key')
  local pin, batch, key = current[8], current[9], current[12]
  local runAt = tonumber(current[6])
  local previous = current[1]
  if previous then
    local curAttempt, curPhase = tonumber(current[2]) or 0, tonumber(current[3]) or 0
    if finished(previous) or (attempt >= 0 and (attempt < curAttempt or (attempt == curAttempt and phase < curPhase))) then
      -- Refused as late, yet what the API learned at submission still belongs in the record: a
      -- quick worker's writes often land before the API's own.
      for i = first + 12, last, 2 do
        if a[i] == 'spec' or a[i] == 'replayOf' then redis.call('HSETNX', task, a[i], a[i + 1]) end
      end
      return {0, previous}
    end
    if claimant ~= '' and previous == 'running' and attempt == curAttempt and current[4]
        and current[4] ~= claimant and (tonumber(current[5]) or 0) > nowMs() then
      return {2, previous}
    end
  elseif attempt < 0 then
    -- Only a task that exists can be cancelled.
    return {0, ''}
  end
  -- One HSET for every field: Redis is what a draining worker waits on, and each call costs it.
  local fields = {'status', status, 'phase', phase}
  if attempt >= 0 then fields[#fields + 1] = 'attempts'; fields[#fields + 1] = attempt end
  if claimant ~= '' then
    fields[#fields + 1] = 'claimant'; fields[#fields + 1] = claimant
    fields[#fields + 1] = 'claimedUntil'; fields[#fields + 1] = nowMs() + claimMs
  end
  -- Only this function creates task hashes, so one that exists has its type, createdAt and tenant.
  if not previous then
    fields[#fields + 1] = 'type'; fields[#fields + 1] = a[first + 5]
    fields[#fields + 1] = 'createdAt'; fields[#fields + 1] = a[first + 6]
    if a[first + 11] ~= '' then fields[#fields + 1] = 'tenant'; fields[#fields + 1] = a[first + 11] end
  end
  for i = first + 12, last, 2 do
    fields[#fields + 1] = a[i]; fields[#fields + 1] = a[i + 1]
    if a[i] == 'runAt' then runAt = tonumber(a[i + 1]) end
    if a[i] == 'pin' then pin = a[i + 1] end
    if a[i] == 'batch' then batch = a[i + 1] end
    if a[i] == 'key' then key = a[i + 1] end
  end
  redis.call('HSET', task, unpack(fields))
  -- The top-level error is the final outcome's: a success on a retry clears the last attempt's
  -- (the record's history keeps every failed attempt).
  if status == 'succeeded' and previous then redis.call('HDEL', task, 'error') end
  -- A task scheduled past the TTL keeps its record until runAt + TTL: were it to expire first, a
  -- cancellation would be forgotten and the release would create the record afresh and run it.
  local ttl = tonumber(a[first + 4])
  if runAt then
    local untilRun = math.ceil((runAt - nowMs()) / 1000)
    if untilRun > 0 then ttl = ttl + untilRun end
  end
  redis.call('EXPIRE', task, ttl)
  if previous ~= status then
    if previous then redis.call('HINCRBY', counts, previous, -1) end
    redis.call('HINCRBY', counts, status, 1)
  end
  -- A tenant's open tasks: +1 when its task's record appears unfinished, -1 when it finishes.
  local tenant = current[7] or (a[first + 11] ~= '' and a[first + 11]) or 'default'
  if not previous and not finished(status) then
    redis.call('HINCRBY', open, tenant, 1)
  elseif previous and finished(status) then
    redis.call('HINCRBY', open, tenant, -1)
  end
  if previous ~= status then
    local prefix = string.sub(task, 1, #task - #id - 5)
    task_indexed(prefix, id, previous, status, tonumber(current[10]) or tonumber(a[first + 6]),
      current[11] or a[first + 5], tenant, key)
  end
  -- Only queued tasks are in the waiting set (one whose record expired may be left in it).
  if a[first + 8] ~= '' then
    redis.call('ZADD', waiting, a[first + 8], id)
  elseif previous == 'queued' or not previous then
    redis.call('ZREM', waiting, id)
  end
  if finished(status) then
    redis.call('PUBLISH', a[first + 7], status)
    -- A task of an ordering key leaves its key's open tasks; the last one out frees the key to
    -- go to whichever lane its next task asks for (lane-assigner.ts, keys.ts pinnedTasks).
    if pin then
      redis.call('ZREM', pin, id)
      if redis.call('ZCARD', pin) == 0 then
        local at = string.find(pin, 'key-open:', 1, true)
        redis.call('DEL', pin, string.sub(pin, 1, at - 1) .. 'key-lane:' .. string.sub(pin, at + 9))
      end
    end
    -- A batch's child is counted in the call that finishes it (batch-script.ts); the queue's
    -- prefix is the task key's, less 'task:<id>'.
    if batch then batch_child_finished(string.sub(task, 1, #task - #id - 5), batch, id, status) end
  end
  return {1, previous or ''}
end
`;

/**
 * Applies the transitions of one call in order (RedisTaskStore sends even a lone one this way).
 * KEYS [1] counts hash [2] waiting sorted set [3] open-by-tenant hash [4..] one task hash per
 * transition; ARGV [1] '1' to keep the listing indexes (index-script.ts), then per
 * transition: its argument count, then its arguments as above. Returns the pairs of each
 * outcome, flattened.
 */
export const TRANSITION_LUA = `${BATCH_LUA}${INDEX_LUA}${APPLY_LUA}
local out, at = {}, 2
indexing = ARGV[1] == '1'
for k = 4, #KEYS do
  local n = tonumber(ARGV[at])
  local outcome = apply(KEYS[k], KEYS[1], KEYS[2], KEYS[3], ARGV, at + 1, at + n)
  out[#out + 1] = outcome[1]
  out[#out + 1] = outcome[2]
  at = at + n + 1
end
task_events_publish()
return out
`;

/**
 * Extends (or, with a length of 0, gives up) a claim, only while its claimant still holds the
 * running attempt: KEYS [1] task hash; ARGV [1] claimant [2] attempt [3] claim length in ms.
 * Returns 1 when the claim was changed.
 */
export const CLAIM_LUA = `
local current = redis.call('HMGET', KEYS[1], 'status', 'attempts', 'claimant')
if current[1] ~= 'running' or current[2] ~= ARGV[2] or current[3] ~= ARGV[1] then return 0 end
local ms = tonumber(ARGV[3])
local expires = 0
if ms > 0 then
  local t = redis.call('TIME')
  expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ms
end
redis.call('HSET', KEYS[1], 'claimedUntil', expires)
return 1
`;
