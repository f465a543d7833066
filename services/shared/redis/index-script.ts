import type { TaskStatus } from '../task';

/**
 * The statuses with an index of their own: the ones a user looks for among many (what failed,
 * what waits for later). queued, running and succeeded are most transitions, so they are not
 * indexed (that halved Redis' cost of the indexes, bench "upkeep"): a listing of them walks
 * every task's index, where the newest tasks are mostly in those statuses anyway.
 */
export const INDEXED_STATUSES: readonly TaskStatus[] = [
  'scheduled',
  'retrying',
  'waiting-children',
  'failed',
  'cancelled',
];

/**
 * What the transition script keeps beside the records for the listing (GET /v1/tasks), the live
 * events (GET /v1/events) and the rates: done in the same script call as the transition, so an
 * index never disagrees with a record for longer than the record lives.
 *
 * - Sorted sets of task ids, all scored by `createdAt` (so every index pages in the same order
 *   and `since`/`until` mean the same thing in each): `idx:created` (every task),
 *   `idx:type:<type>`, `idx:tenant:<tenant>` (written when the record is created; none for the
 *   default tenant, which most installations only have) and `idx:status:<status>` for
 *   INDEXED_STATUSES (moved on each change of status). `idx:names` is the set of the type and
 *   tenant indexes, for the sweeper (task-index.ts), which removes the ids whose records
 *   expired; the listing skips any it meets first.
 * - Cost, per task that succeeds: two sorted-set entries (about 180 bytes each) and four
 *   writes (two ZADD, one HINCRBY, the record's own); the listing's speed and this cost are
 *   measured side by side in the bench (scenarios listing and upkeep).
 * - `totals`: `started`, a counter since the queue began, the rates' numerator beside the counts
 *   hash (whose statuses sum to every task created: finished ones count how many ever ended so).
 * - One message per script call on `task-events`: a line per change of status,
 *   `id \t status \t type \t tenant \t key \t atMs` (task-events.ts parses it), built and
 *   published only while the channel has a subscriber (PUBSUB NUMSUB, once per call).
 *
 * Key names are built here from the queue's prefix, as RedisKeys builds them (taskIndex*,
 * totals, taskEvents): keep the two in step. `indexing` is the script call's first argument
 * (TASK_INDEXES): off, none of this is written.
 */
export const INDEX_LUA = `
local indexing = false
local indexed = { ${INDEXED_STATUSES.map((s) => `['${s}'] = true`).join(', ')} }
local events, eventsPrefix, eventsAt, listening = {}, nil, nil, nil
-- A type or tenant index the call just created is named in idx:names (ZCARD is a read: cheaper
-- than a SADD on every task, which Redis would also write to its AOF).
local function index_new(prefix, index, created, id)
  redis.call('ZADD', index, created, id)
  if redis.call('ZCARD', index) == 1 then redis.call('SADD', prefix .. 'idx:names', index) end
end
local function task_indexed(prefix, id, previous, status, created, typeName, tenant, key)
  if not indexing then return end
  if not previous then
    redis.call('ZADD', prefix .. 'idx:created', created, id)
    index_new(prefix, prefix .. 'idx:type:' .. typeName, created, id)
    if tenant ~= 'default' then index_new(prefix, prefix .. 'idx:tenant:' .. tenant, created, id) end
  elseif indexed[previous] then
    redis.call('ZREM', prefix .. 'idx:status:' .. previous, id)
  end
  if indexed[status] then redis.call('ZADD', prefix .. 'idx:status:' .. status, created, id) end
  if status == 'running' then redis.call('HINCRBY', prefix .. 'totals', 'started', 1) end
  -- Events only while someone listens (GET /v1/events subscribes while a stream is open):
  -- with no stream open, the events cost Redis one lookup per call (bench "upkeep").
  if listening == nil then
    listening = redis.call('PUBSUB', 'NUMSUB', prefix .. 'task-events')[2] > 0
    if listening then
      local t = redis.call('TIME')
      eventsAt = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
  end
  if not listening then return end
  eventsPrefix = prefix
  events[#events + 1] = id .. '\\t' .. status .. '\\t' .. typeName .. '\\t' .. tenant .. '\\t' .. (key and string.gsub(key, '[\\t\\n]', ' ') or '') .. '\\t' .. eventsAt
end
local function task_events_publish()
  if #events > 0 then redis.call('PUBLISH', eventsPrefix .. 'task-events', table.concat(events, '\\n')) end
end
`;
