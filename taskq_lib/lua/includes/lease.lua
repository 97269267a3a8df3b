--- keys: inflight tokens
-- Is `token` the current delivery of task `id`? A worker whose lease expired holds an old
-- token, and must change nothing: the task went to another worker.
local function holds(id, token)
  return redis.call('HGET', TOKENS, id) == token
end

-- The task is no longer in flight: drop its lease and its delivery token.
local function release_lease(id)
  redis.call('ZREM', INFLIGHT, id)
  redis.call('HDEL', TOKENS, id)
end
