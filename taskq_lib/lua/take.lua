--- keys: pending scheduled bodies counters inflight tokens attempts
--- include: lease state pending bury
-- Hand out up to `count` tasks. ARGV: now_ms, lease_ms, count, token_prefix, max_attempts.
-- Also, in the same atomic step: promote due scheduled tasks, and return expired leases to
-- pending (or to the dead-letter queue once a task had max_attempts attempts).
-- Returns {next_ms, id1, token1, attempts1, body1, id2, ...}; next_ms is when the next
-- scheduled task is due or the next lease expires (-1: never), to plan the wait.
local now, lease, count = num(ARGV[1], 'now'), num(ARGV[2], 'lease'), num(ARGV[3], 'count')
local prefix, max_attempts = ARGV[4], num(ARGV[5], 'max_attempts')
if count < 0 or count > 10000 then error('taskq: count must be 0..10000') end

local due = redis.call('ZRANGEBYSCORE', SCHEDULED, '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  redis.call('ZREM', SCHEDULED, id)
  make_pending(id, now, false)
end

local expired = redis.call('ZRANGEBYSCORE', INFLIGHT, '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  local attempts = tonumber(redis.call('HGET', ATTEMPTS, id) or '0')
  if max_attempts > 0 and attempts >= max_attempts then
    bury(id, now, cjson.encode({type = 'LeaseExpired', traceback = '',
      message = 'the worker stopped answering on each of ' .. attempts .. ' attempts'}))
  else
    release_lease(id)
    make_pending(id, now, true)  -- to the front: it has waited longest
    redis.call('HINCRBY', COUNTERS, 'redelivered', 1)
  end
end

local out = {-1}
local ids = {}
if count > 0 then
  -- {member1, score1, member2, ...}; a member is a 16-digit line number, then the id.
  local popped = redis.call('ZPOPMIN', PENDING, count)
  for i = 1, #popped, 2 do table.insert(ids, string.sub(popped[i], 17)) end
end
if #ids > 0 then
  for i, id in ipairs(ids) do
    local body = redis.call('HGET', BODIES, id)
    if body then
      local token = prefix .. ':' .. i
      redis.call('HSET', TOKENS, id, token)
      redis.call('ZADD', INFLIGHT, now + lease, id)
      local attempts = redis.call('HINCRBY', ATTEMPTS, id, 1)
      set_state(id, STATUS.RUNNING, now)
      table.insert(out, id)
      table.insert(out, token)
      table.insert(out, attempts)
      table.insert(out, body)
    else
      -- An id without a body (written by another client, or a half-deleted task): it cannot
      -- run, but it must not vanish either.
      bury(id, now, cjson.encode({type = 'MissingBody', traceback = '',
        message = 'task id ' .. id .. ' was pending but its body is missing'}))
    end
  end
end

local next_due = redis.call('ZRANGE', SCHEDULED, 0, 0, 'WITHSCORES')
local next_expiry = redis.call('ZRANGE', INFLIGHT, 0, 0, 'WITHSCORES')
local next_ms = -1
if next_due[2] then next_ms = tonumber(next_due[2]) end
if next_expiry[2] and (next_ms < 0 or tonumber(next_expiry[2]) < next_ms) then
  next_ms = tonumber(next_expiry[2])
end
out[1] = next_ms
return out
