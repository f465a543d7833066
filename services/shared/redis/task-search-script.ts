/**
 * The listing's scan, inside Redis: walks one index (index-script.ts) newest first from a
 * position, reads each record's few listed fields and keeps those that pass every filter, until
 * the page is full or it has examined its budget of entries. The budget bounds how long one
 * request holds Redis whatever the filters: a rare match yields short pages, each with a cursor.
 *
 * KEYS [1] the index. ARGV [1] the task keys' prefix ('…:task:') [2] page size [3] budget
 * [4] since (epoch ms, '' none) [5] until (exclusive, '' none) [6] cursor id ('' first page)
 * [7] cursor score [8] statuses (comma list, '' any) [9] type [10] tenant [11] key prefix
 * [12] id prefix [13] lower-case text to find in the error ('' none; each '' means any).
 * Returns {done, lastId, lastScore, scanned, then per match: id and LISTED_FIELDS' values ('' when
 * absent)}.
 */
export const SEARCH_LUA = `
local idx, taskPrefix = KEYS[1], ARGV[1]
local limit, budget = tonumber(ARGV[2]), tonumber(ARGV[3])
local since = tonumber(ARGV[4])
local untilMs = tonumber(ARGV[5])
local statuses, anyStatus = {}, ARGV[8] == ''
for s in string.gmatch(ARGV[8], '[^,]+') do statuses[s] = true end
local typeName, tenant, keyPrefix, idPrefix, text = ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]

local pos = 0
if ARGV[6] ~= '' then
  local rank = redis.call('ZREVRANK', idx, ARGV[6])
  -- The cursor's entry left the index (its status changed, or it expired): resume after its score.
  pos = rank and rank + 1 or redis.call('ZCOUNT', idx, '(' .. ARGV[7], '+inf')
elseif untilMs then
  pos = redis.call('ZCOUNT', idx, untilMs, '+inf')
end

local function errorMatches(raw)
  if not raw then return false end
  local ok, e = pcall(cjson.decode, raw)
  local hay = raw
  if ok and type(e) == 'table' then hay = tostring(e.name or '') .. ': ' .. tostring(e.message or '') end
  return string.find(string.lower(hay), text, 1, true) ~= nil
end

local CHUNK = 200
local out, scanned, matched, lastId, lastScore, done = {0, '', '', 0}, 0, 0, '', '', 0
while matched < limit and scanned < budget do
  local chunk = redis.call('ZREVRANGE', idx, pos, pos + CHUNK - 1, 'WITHSCORES')
  if #chunk == 0 then done = 1 break end
  for i = 1, #chunk, 2 do
    local id, score = chunk[i], chunk[i + 1]
    if since and tonumber(score) < since then done = 1 break end
    scanned = scanned + 1
    lastId, lastScore = id, score
    local ok = idPrefix == '' or string.sub(id, 1, #idPrefix) == idPrefix
    local h
    if ok then
      h = redis.call('HMGET', taskPrefix .. id, 'status', 'type', 'tenant', 'key', 'error', 'attempts',
        'createdAt', 'startedAt', 'finishedAt', 'priority')
      -- h[1] false: the record expired and the sweeper has not reached its entry yet.
      ok = h[1] and (anyStatus or statuses[h[1]]) and (typeName == '' or h[2] == typeName)
        and (tenant == '' or (h[3] or 'default') == tenant)
        and (keyPrefix == '' or (h[4] and string.sub(h[4], 1, #keyPrefix) == keyPrefix))
        and (text == '' or errorMatches(h[5]))
    end
    if ok then
      matched = matched + 1
      out[#out + 1] = id
      for f = 1, 10 do out[#out + 1] = h[f] or '' end
    end
    if matched >= limit or scanned >= budget then break end
  end
  if done == 1 or matched >= limit or scanned >= budget then break end
  -- A short chunk (WITHSCORES: two elements an entry) was the index's end.
  if #chunk < 2 * CHUNK then done = 1 break end
  pos = pos + CHUNK
end
out[1], out[2], out[3], out[4] = done, lastId, lastScore, scanned
return out
`;

/** The fields SEARCH_LUA returns per match, in order. */
export const LISTED_FIELDS = [
  'status',
  'type',
  'tenant',
  'key',
  'error',
  'attempts',
  'createdAt',
  'startedAt',
  'finishedAt',
  'priority',
] as const;

/**
 * Removes the ids whose records expired from one index, `count` entries a call, oldest first
 * from where the last call stopped (a rank kept in the sweep hash; back to 0 at the end).
 * KEYS [1] the index [2] the sweep hash [3] the index names set. ARGV [1] task keys' prefix
 * [2] count. Returns how many it removed.
 */
export const SWEEP_LUA = `
local idx, sweep, names = KEYS[1], KEYS[2], KEYS[3]
local rank = tonumber(redis.call('HGET', sweep, idx) or '0')
local count = tonumber(ARGV[2])
local ids = redis.call('ZRANGE', idx, rank, rank + count - 1)
local removed = 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then
    redis.call('ZREM', idx, id)
    removed = removed + 1
  end
end
if #ids < count then
  redis.call('HSET', sweep, idx, 0)
  if redis.call('EXISTS', idx) == 0 then
    redis.call('SREM', names, idx)
    redis.call('HDEL', sweep, idx)
  end
else
  redis.call('HSET', sweep, idx, rank + #ids - removed)
end
return removed
`;
