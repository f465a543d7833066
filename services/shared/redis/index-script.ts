/**
 * What the transition script keeps beside the records for the listing (GET /v1/tasks), the live
 * events (GET /v1/events) and the rates: done in the same script call as the transition, so an
 * index never disagrees with a record for longer than the record lives.
 *
 * - Sorted sets of task ids, all scored by `createdAt` (so every index pages in the same order
 *   and `since`/`until` mean the same thing in each): `idx:created` (every task),
 *   `idx:type:<type>`, `idx:tenant:<tenant>` (written when the record is created) and
 *   `idx:status:<status>` (moved on each change of status). `idx:names` is the set of the type
 *   and tenant indexes, for the sweeper (task-index.ts), which removes the ids whose records
 *   expired; the listing skips any it meets first.
 * - Each entry costs Redis about 180 bytes, so two indexes are left out where a scan of
 *   `idx:created` finds the same tasks densely: `succeeded` (most tasks end so) and the default
 *   tenant (most installations have only it). A typical task then has two entries, not four.
 * - `totals`: counters since the queue began (`submitted`, `started`), the rates' numerators
 *   beside the counts hash's finished statuses.
 * - One message per script call on `task-events`: a line per change of status,
 *   `id \t status \t type \t tenant \t key \t atMs` (task-events.ts parses it). With no
 *   subscriber, PUBLISH costs Redis one lookup.
 *
 * Key names are built here from the queue's prefix, as RedisKeys builds them (taskIndex*,
 * totals, taskEvents): keep the two in step. `indexing` is the script call's first argument
 * (TASK_INDEXES): off, none of this is written.
 */
export const INDEX_LUA = `
local indexing = false
local events, eventsPrefix, eventsAt = {}, nil, nil
local function task_indexed(prefix, id, previous, status, created, typeName, tenant, key)
  if not indexing then return end
  if not previous then
    local byType = prefix .. 'idx:type:' .. typeName
    redis.call('ZADD', prefix .. 'idx:created', created, id)
    redis.call('ZADD', byType, created, id)
    redis.call('SADD', prefix .. 'idx:names', byType)
    if tenant ~= 'default' then
      local byTenant = prefix .. 'idx:tenant:' .. tenant
      redis.call('ZADD', byTenant, created, id)
      redis.call('SADD', prefix .. 'idx:names', byTenant)
    end
    redis.call('HINCRBY', prefix .. 'totals', 'submitted', 1)
  elseif previous ~= 'succeeded' then
    redis.call('ZREM', prefix .. 'idx:status:' .. previous, id)
  end
  if status ~= 'succeeded' then redis.call('ZADD', prefix .. 'idx:status:' .. status, created, id) end
  if status == 'running' then redis.call('HINCRBY', prefix .. 'totals', 'started', 1) end
  if not eventsAt then
    local t = redis.call('TIME')
    eventsAt = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  eventsPrefix = prefix
  events[#events + 1] = id .. '\\t' .. status .. '\\t' .. typeName .. '\\t' .. tenant .. '\\t' .. (key and string.gsub(key, '[\\t\\n]', ' ') or '') .. '\\t' .. eventsAt
end
local function task_events_publish()
  if #events > 0 then redis.call('PUBLISH', eventsPrefix .. 'task-events', table.concat(events, '\\n')) end
end
`;
