/**
 * The token bucket both the rate limit (rate-limiter.ts) and the spill allowance
 * (lane-assigner.ts) keep in a Redis hash (`tokens`, `at`), as Lua functions their scripts
 * start with. The clock is Redis's (TIME), so API replicas whose clocks disagree still share one
 * refill rate.
 */
export const TOKEN_BUCKET_FUNCTIONS_LUA = `
local function nowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
-- The tokens in the bucket at \`now\`: refilled at \`rate\` a second up to \`burst\`; full when new.
local function bucketTokens(key, rate, burst, now)
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(state[1]), tonumber(state[2])
  if tokens == nil or at == nil then tokens, at = burst, now end
  return math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
end
local function bucketSave(key, rate, burst, tokens, now)
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  -- Gone once it would be full again anyway, so idle submitters cost no memory.
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) * 1000 / rate) + 1000)
end
`;
