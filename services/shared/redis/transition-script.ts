/**
 * Moves one task record forward, never backward, atomically inside Redis, and keeps the queue's
 * status counts and waiting set in step with it. Kept as a string (not a .lua file) so the
 * compiled output and the images need nothing beside the JavaScript.
 *
 * KEYS  [1] task hash  [2] counts hash  [3] waiting sorted set
 * ARGV  [1] id  [2] status  [3] attempt (-1: any attempt, e.g. a cancellation)  [4] phase
 *       [5] ttl seconds  [6] type  [7] createdAt  [8] channel to publish a finish on
 *       [9] waiting score ('' when the task is not waiting)  [10..] field/value pairs to set
 * Returns {1, previousStatus or ''} when applied, {0, currentStatus or ''} when not.
 */
export const TRANSITION_LUA = `
local function finished(status)
  return status == 'succeeded' or status == 'failed' or status == 'cancelled'
end
local id, status, attempt, phase = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local current = redis.call('HMGET', KEYS[1], 'status', 'attempts', 'phase')
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
redis.call('HSETNX', KEYS[1], 'type', ARGV[6])
redis.call('HSETNX', KEYS[1], 'createdAt', ARGV[7])
redis.call('HSET', KEYS[1], 'status', status, 'phase', phase)
if attempt >= 0 then redis.call('HSET', KEYS[1], 'attempts', attempt) end
for i = 10, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
if previous ~= status then
  if previous then redis.call('HINCRBY', KEYS[2], previous, -1) end
  redis.call('HINCRBY', KEYS[2], status, 1)
end
if ARGV[9] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[9], id)
else
  redis.call('ZREM', KEYS[3], id)
end
if finished(status) then redis.call('PUBLISH', ARGV[8], status) end
return {1, previous or ''}
`;
