--- keys: dead errors counters
--- include: lease state finished
-- Move a task to the dead-letter queue with the error that killed it.
local function bury(id, now, error_json)
  release_lease(id)
  -- Scores of equal time sort by member, not by arrival: nudge ties apart to keep the order.
  local last = redis.call('ZRANGE', DEAD, -1, -1, 'WITHSCORES')[2]
  local score = now
  if last and tonumber(last) >= now then score = tonumber(last) + 0.001 end
  redis.call('ZADD', DEAD, score, id)
  redis.call('HSET', ERRORS, id, error_json)
  set_state(id, STATUS.DEAD, now)
  redis.call('HINCRBY', COUNTERS, 'dead', 1)
  announce({id})
end
