--- keys: bodies state attempts errors results places
-- Forget everything kept about a task.
local function forget(id)
  redis.call('HDEL', BODIES, id)
  redis.call('HDEL', STATE, id)
  redis.call('HDEL', ATTEMPTS, id)
  redis.call('HDEL', ERRORS, id)
  redis.call('HDEL', RESULTS, id)
  redis.call('HDEL', PLACES, id)
end
