--- keys: scheduled state counters cancelled
--- include: state pending finished forget
-- Take back a task that waits (pending or scheduled). ARGV: now_ms, id, retention_ms.
-- Returns {outcome, status}: {'cancelled', status it had}; {'refused', status} for a task
-- that runs or has finished (too late); {'unknown', ''} for an id the queue does not know.
local now, id, retention = num(ARGV[1], 'now'), ARGV[2], num(ARGV[3], 'retention')
local at = redis.call('HGET', STATE, id)
if not at then return {'unknown', ''} end
local status = string.match(at, '^[^:]*')
if status == STATUS.QUEUED then
  remove_pending(id)
elseif status == STATUS.SCHEDULED or status == STATUS.RETRYING then
  redis.call('ZREM', SCHEDULED, id)
else
  return {'refused', status}
end
set_state(id, STATUS.CANCELLED, now)
redis.call('ZADD', CANCELLED, now, id)
redis.call('HINCRBY', COUNTERS, 'cancelled', 1)
announce({id})
-- Forget cancelled tasks older than the retention time, a bounded number per call.
local old = redis.call('ZRANGEBYSCORE', CANCELLED, '-inf', now - retention, 'LIMIT', 0, 200)
for _, gone in ipairs(old) do
  redis.call('ZREM', CANCELLED, gone)
  forget(gone)
end
return {'cancelled', status}
