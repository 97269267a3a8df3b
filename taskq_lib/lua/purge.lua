--- keys: dead
--- include: forget
-- Empty the dead-letter queue, forgetting its tasks. ARGV: none. Returns how many.
local ids = redis.call('ZRANGE', DEAD, 0, -1)
for _, id in ipairs(ids) do forget(id) end
redis.call('DEL', DEAD)
return #ids
