--- keys: done results counters
--- include: lease state forget finished
-- Mark deliveries done. ARGV: now_ms, retention_ms, then (id, token, result_json) triples
-- (result_json '' for none). A delivery whose token is no longer current (its lease expired
-- and the task went to another worker) changes nothing; those ids are returned.
local now, retention = num(ARGV[1], 'now'), num(ARGV[2], 'retention')
groups_of(3, 3)
local stale, finished = {}, {}
for i = 3, #ARGV, 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if holds(id, token) then
    release_lease(id)
    redis.call('ZADD', DONE, now, id)
    if result ~= '' then redis.call('HSET', RESULTS, id, result) end
    set_state(id, STATUS.SUCCEEDED, now)
    table.insert(finished, id)
  else
    table.insert(stale, id)
  end
end
if #finished > 0 then redis.call('HINCRBY', COUNTERS, 'succeeded', #finished) end
announce(finished)
-- Forget successes older than the retention time, a bounded number per call.
local old = redis.call('ZRANGEBYSCORE', DONE, '-inf', now - retention, 'LIMIT', 0, 200)
for _, id in ipairs(old) do
  redis.call('ZREM', DONE, id)
  forget(id)
end
return stale
