--- keys: pending counters places
--- include: state
-- Pending is a sorted set. The score is -priority (bigger runs sooner; with aging, less the
-- points gained by waiting); equal scores sort by member: a 16-digit line number, then the id.
-- Line numbers of arrivals count up from LINE0 (counter 'seq'), those of tasks going back to
-- the front (a lease expired, a prefetch given back) count down from it (counter 'front'):
-- first-in first-out among equals, and the front before both. `places` keeps the score of
-- each task whose score is not 0, to put it back in line with it; most tasks need no entry.
local LINE0 = 1000000000000000

-- The first of `n` new line numbers at the back, minus one.
local function next_lines(n)
  return LINE0 + redis.call('HINCRBY', COUNTERS, 'seq', n) - n
end

local function member_of(line, id)
  return string.format('%016d', line) .. id
end

local function score_of(id)
  return redis.call('HGET', PLACES, id) or '0'
end

-- Put a task on pending: at the back of its priority's line, or at the front of it.
local function make_pending(id, now, front)
  local line
  if front then
    line = LINE0 - redis.call('HINCRBY', COUNTERS, 'front', 1)
  else
    line = next_lines(1) + 1
  end
  redis.call('ZADD', PENDING, score_of(id), member_of(line, id))
  set_state(id, STATUS.QUEUED, now)
end

-- Take a task off pending (not taken yet); returns 1 if it was there. Looks through the tasks
-- of its score (as LREM looked through a list): for cancelling, not for a hot path.
local function remove_pending(id)
  local score = score_of(id)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', PENDING, score, score)) do
    if string.sub(member, 17) == id then return redis.call('ZREM', PENDING, member) end
  end
  return 0
end
