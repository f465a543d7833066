/**
 * Moves task records forward, never backward, atomically inside Redis, and keeps the queue's
 * status counts and waiting set in step with it. Kept as a string (not a .lua file) so the
 * compiled output and the images need nothing beside the JavaScript.
 *
 * `apply(task, counts, waiting, a, first, last)` reads one transition's arguments from
 * a[first..last]:
 *   [+0] id  [+1] status  [+2] attempt (-1: any attempt, e.g. a cancellation)  [+3] phase
 *   [+4] ttl seconds  [+5] type  [+6] createdAt  [+7] channel to publish a finish on
 *   [+8] waiting score ('' when the task is not waiting)  [+9..last] field/value pairs to set
 * and returns {1, previousStatus or ''} when applied, {0, currentStatus or ''} when not.
 */
const APPLY_LUA = `
local function finished(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
end
local function apply(task, counts, waiting, a, first, last)
  local id, status, attempt, phase = a[first], a[first + 1], tonumber(a[first + 2]), tonumber(a[first + 3])
  local current = redis.call('HMGET', task, 'status', 'attempts', 'phase')
  local previous = current[1]
  if previous then
    if finished(previous) then return {0, previous} end
    local curAttempt, curPhase = tonumber(current[2]) or 0, tonumber(current[3]) or 0
    if attempt >= 0 and (attempt < curAttempt or (attempt == curAttempt and phase < curPhase)) then
      return {0, previous}
    end
  elseif attempt < 0 then
    -- Only a task that exists can be cancelled.
    return {0, ''}
  end
  -- One HSET for every field: Redis is what a draining worker waits on, and each call costs it.
  local fields = {'status', status, 'phase', phase}
  if attempt >= 0 then fields[#fields + 1] = 'attempts'; fields[#fields + 1] = attempt end
  -- Only this function creates task hashes, so one that exists has its type and createdAt.
  if not previous then
    fields[#fields + 1] = 'type'; fields[#fields + 1] = a[first + 5]
    fields[#fields + 1] = 'createdAt'; fields[#fields + 1] = a[first + 6]
  end
  for i = first + 9, last, 2 do
    fields[#fields + 1] = a[i]; fields[#fields + 1] = a[i + 1]
  end
  redis.call('HSET', task, unpack(fields))
  redis.call('EXPIRE', task, tonumber(a[first + 4]))
  if previous ~= status then
    if previous then redis.call('HINCRBY', counts, previous, -1) end
    redis.call('HINCRBY', counts, status, 1)
  end
  -- Only queued tasks are in the waiting set (one whose record expired may be left in it).
  if a[first + 8] ~= '' then
    redis.call('ZADD', waiting, a[first + 8], id)
  elseif previous == 'queued' or not previous then
    redis.call('ZREM', waiting, id)
  end
  if finished(status) then redis.call('PUBLISH', a[first + 7], status) end
  return {1, previous or ''}
end
`;

/**
 * Applies the transitions of one call in order (RedisTaskStore sends even a lone one this way).
 * KEYS [1] counts hash [2] waiting sorted set [3..] one task hash per transition; ARGV per
 * transition: its argument count, then its arguments as above. Returns the pairs of each
 * outcome, flattened.
 */
export const TRANSITION_LUA = `${APPLY_LUA}
local out, at = {}, 1
for k = 3, #KEYS do
  local n = tonumber(ARGV[at])
  local outcome = apply(KEYS[k], KEYS[1], KEYS[2], ARGV, at + 1, at + n)
  out[#out + 1] = outcome[1]
  out[#out + 1] = outcome[2]
  at = at + n + 1
end
return out
`;
