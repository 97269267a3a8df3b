--- keys: wakeup
local NUDGES = {1, 1, 1, 1, 1, 1, 1, 1}
local function nudge(n)
  -- Wake up to n blocked consumers, in one call; the list stays short whatever happens.
  -- Past 64 nobody is blocked (they would have popped): cut back to 8, so that a queue
  -- nobody waits on pays for the trim once in 57 nudges, not on every one.
  if redis.call('RPUSH', WAKEUP, unpack(NUDGES, 1, math.max(1, math.min(n, 8)))) > 64 then
    redis.call('LTRIM', WAKEUP, 0, 7)
  end
end

-- Nudge for n tasks made pending, if any; returns n.
local function nudged(n)
  if n > 0 then nudge(n) end
  return n
end
