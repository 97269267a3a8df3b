--- keys: attempts
--- include: lease pending nudge
-- Give back deliveries that were taken but never started (a closing consumer's prefetch).
-- ARGV: now_ms, then (id, token) pairs. They go to the front of pending, attempt undone.
local now = num(ARGV[1], 'now')
groups_of(2, 2)
local released = 0
for i = #ARGV - 1, 2, -2 do  -- backwards: front line numbers count down, so the order stays
  local id, token = ARGV[i], ARGV[i + 1]
  if holds(id, token) then
    release_lease(id)
    redis.call('HINCRBY', ATTEMPTS, id, -1)
    make_pending(id, now, true)
    released = released + 1
  end
end
return nudged(released)
