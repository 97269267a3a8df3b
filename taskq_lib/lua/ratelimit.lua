-- ratelimit.lua: may a task of one type start now? One call per decision, shared by every
-- worker process. KEYS[1]: the type's hash, taskq:ratelimit:{type}. ARGV: now_ms,
-- interval_ms (the period divided by the count: starts are spread evenly, one per interval),
-- task id.
-- The hash holds `next` (the first slot nobody has reserved), `last` (when the last start was
-- allowed) and `r:<id>` (the slot reserved for a task sent back to wait).
-- Returns 0 (start now) or the milliseconds to wait. A task that must wait reserves the next
-- free slot, so the tasks that wait come back one per interval, not all at once.
local key = KEYS[1]
local now, interval, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
if now == nil or interval == nil or interval <= 0 then
  error('taskq: ratelimit expects now_ms and interval_ms > 0')
end
local found = redis.call('TYPE', key)['ok']
if found ~= 'none' and found ~= 'hash' then
  error('taskq: key ' .. key .. ' is a ' .. found .. ', expected a hash')
end
local field = 'r:' .. id
local slot = tonumber(redis.call('HGET', key, field))
local free = tonumber(redis.call('HGET', key, 'next') or '0')
local last = tonumber(redis.call('HGET', key, 'last'))
local reserved = slot ~= nil
if not reserved then
  slot = math.max(now, free)
  free = slot + interval
  redis.call('HSET', key, 'next', free)
end
-- Never two starts closer than one interval, even when a reserved task comes back late.
local earliest = slot
if last ~= nil then earliest = math.max(slot, last + interval) end
local wait = 0
if now >= earliest then
  redis.call('HDEL', key, field)
  redis.call('HSET', key, 'last', now)
else
  if not reserved then redis.call('HSET', key, field, slot) end
  wait = earliest - now
end
-- Forgotten once idle: a minute after the last reserved slot.
redis.call('PEXPIRE', key, math.max(free - now, 0) + 60000)
return wait
