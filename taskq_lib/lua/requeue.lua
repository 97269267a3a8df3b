--- keys: dead attempts
--- include: pending nudge
-- Dead-letter queue -> pending, attempts reset. ARGV: now_ms, then 'all', or 'ids' and the
-- ids. Returns how many were requeued; ids not in the dead-letter queue are skipped.
local now, mode = num(ARGV[1], 'now'), ARGV[2]
local ids = {}
if mode == 'all' then ids = redis.call('ZRANGE', DEAD, 0, -1)
elseif mode == 'ids' then for i = 3, #ARGV do table.insert(ids, ARGV[i]) end
else error('taskq: mode must be all or ids, got ' .. tostring(mode)) end
local moved = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', DEAD, id) == 1 then
    redis.call('HSET', ATTEMPTS, id, 0)
    make_pending(id, now, false)
    moved = moved + 1
  end
end
return nudged(moved)
