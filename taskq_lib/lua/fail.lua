--- keys: scheduled errors counters dead
--- include: lease state nudge bury forget
-- A run failed. ARGV: now_ms, id, token, error_json, retry_at_ms (-1: dead-letter it),
-- dead_max (most tasks the dead-letter queue keeps), dead_max_age_ms.
-- Returns 1, or 0 if the token is not current (the lease was lost: nothing changes).
local now, id, token, error_json = num(ARGV[1], 'now'), ARGV[2], ARGV[3], ARGV[4]
local retry_at, dead_max = num(ARGV[5], 'retry_at'), num(ARGV[6], 'dead_max')
local dead_age = num(ARGV[7], 'dead_max_age')
if not holds(id, token) then return 0 end
if retry_at >= 0 then
  release_lease(id)
  redis.call('HSET', ERRORS, id, error_json)
  redis.call('ZADD', SCHEDULED, retry_at, id)
  set_state(id, STATUS.RETRYING, now)
  redis.call('HINCRBY', COUNTERS, 'retried', 1)
  nudge(1)
  return 1
end
bury(id, now, error_json)
-- Keep the dead-letter queue bounded, by age and by size: the oldest go first.
local old = redis.call('ZRANGEBYSCORE', DEAD, '-inf', now - dead_age, 'LIMIT', 0, 200)
local excess = redis.call('ZCARD', DEAD) - dead_max
if excess > 0 then
  for _, extra in ipairs(redis.call('ZRANGE', DEAD, 0, excess - 1)) do table.insert(old, extra) end
end
for _, gone in ipairs(old) do
  redis.call('ZREM', DEAD, gone)
  forget(gone)
end
return 1
