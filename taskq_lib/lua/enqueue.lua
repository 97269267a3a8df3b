-- Add tasks. ARGV: now_ms, then (id, body, due_ms) triples; due_ms 0 means "ready now".
-- All or nothing: if any id is already known, nothing is added and those ids are returned.
local now = num(ARGV[1], 'now')
groups_of(3, 2)
local known = {}
for i = 2, #ARGV, 3 do
  num(ARGV[i + 2], 'due')
  if redis.call('HEXISTS', BODIES, ARGV[i]) == 1 then table.insert(known, ARGV[i]) end
end
if #known > 0 then return known end
local ready = 0
for i = 2, #ARGV, 3 do
  local id, body, due = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  redis.call('HSET', BODIES, id, body)
  if due > now then
    redis.call('ZADD', SCHEDULED, due, id)
    set_state(id, 'scheduled', now)
  else
    redis.call('RPUSH', PENDING, id)
    set_state(id, 'queued', now)
    ready = ready + 1
  end
end
redis.call('HINCRBY', COUNTERS, 'enqueued', (#ARGV - 1) / 3)
-- A scheduled task may now be the earliest: nudge so a waiting consumer re-plans its wait.
nudge(math.max(ready, 1))
return known
