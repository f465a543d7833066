/**
 * A batch's bookkeeping, inside Redis. A child's finish is counted by the same script call that
 * finishes it (the transition script calls batch_child_finished), so it is counted exactly once:
 * a finished task never changes again, and a redelivered or raced child's second finish is
 * refused before it gets here. The batch completes in the call that makes it sealed with every
 * child counted, which sets `finishedAt` once and writes its completion work (the callback, the
 * onComplete task, a waiting parent) to streams any worker drains: exactly one completion per
 * batch, whichever two children finish last on whichever workers, and whoever dies after.
 *
 * Key names are built here from the queue's prefix, as RedisKeys builds them (batch*,
 * callbackOutbox, batchCompletions, finishedChannel): keep the two in step.
 */
export const BATCH_LUA = `
local function batch_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Completes the batch if it is sealed, every child is counted, and it has not completed yet.
local function batch_settle(prefix, bid)
  local b = prefix .. 'batch:' .. bid
  local h = redis.call('HMGET', b, 'sealedAt', 'total', 'done', 'finishedAt', 'callbackUrl', 'onComplete', 'parent')
  if not h[1] or h[4] or (tonumber(h[3]) or 0) < (tonumber(h[2]) or 0) then return 0 end
  redis.call('HSET', b, 'finishedAt', batch_now())
  redis.call('DECR', prefix .. 'batches-open')
  if h[5] then redis.call('XADD', prefix .. 'callback-outbox', '*', 'batch', bid, 'url', h[5]) end
  redis.call('XADD', prefix .. 'batch-completions', '*', 'batch', bid)
  redis.call('PUBLISH', prefix .. 'finished:batch:' .. bid, 'finished')
  return 1
end
local function batch_child_finished(prefix, bid, child, status)
  local b = prefix .. 'batch:' .. bid
  -- Expired (or never made: a message naming a batch this queue does not have).
  if redis.call('EXISTS', b) == 0 then return end
  -- Not a member: withdrawn when its submission was reported lost, yet it reached Kafka after
  -- all. It was taken out of the total, so it must not count towards done either.
  if redis.call('SISMEMBER', prefix .. 'batch-members:' .. bid, child) == 0 then return end
  redis.call('HINCRBY', b, 'done', 1)
  redis.call('HINCRBY', b, status, 1)
  if status ~= 'succeeded' then
    local z = prefix .. 'batch-unsuccessful:' .. bid
    redis.call('ZADD', z, batch_now(), child)
    local ttl = redis.call('TTL', b)
    if ttl > 0 then redis.call('EXPIRE', z, ttl) end
  end
  batch_settle(prefix, bid)
end
`;

/**
 * Takes children into an open batch: KEYS [1] batch hash [2] members set; ARGV [1] tenant
 * [2] ttl seconds [3..] child ids. Ids already members are not counted again (a retried request
 * or parent publishes the same ids). Returns {'ok', {the ids new here}}, or {'missing'|'sealed'|'cancelled'|'tenant', {}}.
 */
export const BATCH_ADMIT_LUA = `
local h = redis.call('HMGET', KEYS[1], 'tenant', 'sealedAt', 'cancelledAt')
if not h[1] then return {'missing', {}} end
if h[1] ~= ARGV[1] then return {'tenant', {}} end
if h[3] then return {'cancelled', {}} end
if h[2] then return {'sealed', {}} end
local added = {}
for i = 3, #ARGV do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then added[#added + 1] = ARGV[i] end
end
redis.call('HINCRBY', KEYS[1], 'total', #added)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {'ok', added}
`;

/**
 * Takes back children Kafka never got (their submission failed): KEYS [1] batch hash [2] members
 * set; ARGV [1] prefix [2] batch id [3..] child ids. A batch sealed meanwhile may complete now.
 */
export const BATCH_WITHDRAW_LUA = `${BATCH_LUA}
local removed = 0
for i = 3, #ARGV do removed = removed + redis.call('SREM', KEYS[2], ARGV[i]) end
redis.call('HINCRBY', KEYS[1], 'total', -removed)
batch_settle(ARGV[1], ARGV[2])
return removed
`;

/**
 * Seals a batch (no more children), and with ARGV [3] = '1' marks it cancelled too: KEYS [1]
 * batch hash; ARGV [1] prefix [2] batch id [3] cancel. Returns {sealed now (1/0), completed now (1/0)},
 * or {-1, 0} when the batch does not exist.
 */
export const BATCH_SEAL_LUA = `${BATCH_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
local now = batch_now()
local sealed = redis.call('HSETNX', KEYS[1], 'sealedAt', now)
if ARGV[3] == '1' then redis.call('HSETNX', KEYS[1], 'cancelledAt', now) end
return {sealed, batch_settle(ARGV[1], ARGV[2])}
`;
