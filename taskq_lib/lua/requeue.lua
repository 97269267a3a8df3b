-- Dead-letter queue -> pending, run count reset. ARGV: now_ms, then ids ('*' alone: all).
-- Returns how many were requeued; ids not in the dead-letter queue are skipped.
local now = num(ARGV[1], 'now')
local ids = {}
if ARGV[2] == '*' then ids = redis.call('ZRANGE', DEAD, 0, -1) else
  for i = 2, #ARGV do table.insert(ids, ARGV[i]) end
end
local moved = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', DEAD, id) == 1 then
    redis.call('HSET', ATTEMPTS, id, 0)
    redis.call('RPUSH', PENDING, id)
    set_state(id, 'queued', now)
    moved = moved + 1
  end
end
if moved > 0 then nudge(moved) end
return moved
