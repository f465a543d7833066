/**
 * Moves one task record forward, never backward, atomically inside Redis. Kept as a string (not a
 * .lua file) so the compiled output and the images need nothing beside the JavaScript.
 */
export const TRANSITION_LUA = `
-- Moves one task record forward, never backward. Runs atomically inside Redis.
-- KEYS[1]  the task hash
-- ARGV     status, attempt, phase, ttlSeconds, type, createdAt, then field/value pairs to set
-- Returns  {1} when applied, {0, currentStatus} when the record was already at or past this point.
local status, attempt, phase = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local current = redis.call('HMGET', KEYS[1], 'status', 'attempts', 'phase')
if current[1] then
  local terminal = current[1] == 'succeeded' or current[1] == 'failed' or current[1] == 'cancelled'
  local curAttempt, curPhase = tonumber(current[2]) or 0, tonumber(current[3]) or 0
  if terminal or attempt < curAttempt or (attempt == curAttempt and phase < curPhase) then
    return {0, current[1]}
  end
end
redis.call('HSETNX', KEYS[1], 'type', ARGV[5])
redis.call('HSETNX', KEYS[1], 'createdAt', ARGV[6])
redis.call('HSET', KEYS[1], 'status', status, 'attempts', attempt, 'phase', phase)
for i = 7, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {1}
`;
