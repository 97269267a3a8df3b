--- keys: scheduled bodies state counters uniques expiries
--- include: state pending nudge
-- Enqueue one task unless another holds its unique key. A key is held while its task waits
-- or runs, and at least until `until_ms` (0: no minimum).
-- ARGV: now_ms, key, fingerprint, until_ms, id, body, due_ms (0: pending now).
-- Returns {} when the task was added, else {holder_id, holder_fingerprint}.
local now, key, fp = num(ARGV[1], 'now'), ARGV[2], ARGV[3]
local hold_until, id, body, due = num(ARGV[4], 'until'), ARGV[5], ARGV[6], num(ARGV[7], 'due')
if redis.call('HEXISTS', BODIES, id) == 1 then error('taskq: task id ' .. id .. ' is already known') end
-- Look again at a minute's worth of keys whose time is up: forget those that are free.
local RECHECK = 60000

local function held(entry)
  if entry.hold > now then return true end
  local at = redis.call('HGET', STATE, entry.id)
  local status = at and string.match(at, '^[^:]*')
  return status == STATUS.QUEUED or status == STATUS.SCHEDULED or status == STATUS.RETRYING
    or status == STATUS.RUNNING
end

for _, old in ipairs(redis.call('ZRANGEBYSCORE', EXPIRIES, '-inf', now, 'LIMIT', 0, 100)) do
  local raw = redis.call('HGET', UNIQUES, old)
  if raw and held(cjson.decode(raw)) then
    redis.call('ZADD', EXPIRIES, now + RECHECK, old)
  else
    redis.call('HDEL', UNIQUES, old)
    redis.call('ZREM', EXPIRIES, old)
  end
end

local raw = redis.call('HGET', UNIQUES, key)
if raw then
  local entry = cjson.decode(raw)
  if held(entry) then return {entry.id, entry.fp} end
end
redis.call('HSET', BODIES, id, body)
if due > now then
  redis.call('ZADD', SCHEDULED, due, id)
  set_state(id, STATUS.SCHEDULED, now)
else
  make_pending(id, now, false)
end
redis.call('HSET', UNIQUES, key, cjson.encode({id = id, fp = fp, hold = hold_until}))
redis.call('ZADD', EXPIRIES, math.max(hold_until, now + RECHECK), key)
redis.call('HINCRBY', COUNTERS, 'enqueued', 1)
nudge(1)
return {}
