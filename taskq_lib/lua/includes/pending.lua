--- keys: pending counters places
--- include: state
-- Pending is a sorted set: the score is -priority (bigger runs sooner; with aging, minus the
-- points gained by waiting), and ties sort by member, which starts with a 16-digit line
-- number from the counter 'seq', so equal scores go first-in first-out. `places` keeps each
-- task's "score member", to put it back in its place or in line, and to find it by id.

-- The pending member of a new place in line: the next line numbers, `n` of them.
local function next_lines(n)
  return redis.call('HINCRBY', COUNTERS, 'seq', n) - n
end

local function member_of(line, id)
  return string.format('%016d', line) .. id
end

-- Put a task on pending: in its old place (front: a lease expired or a prefetch given back,
-- so it goes before every later task of its priority), or at the back of its priority's line.
local function make_pending(id, now, front)
  local place = redis.call('HGET', PLACES, id)
  local score, member = '0', nil
  if place then score, member = string.match(place, '^(%S+) (.*)$') end
  if not front or not member then
    member = member_of(next_lines(1) + 1, id)
    redis.call('HSET', PLACES, id, score .. ' ' .. member)
  end
  redis.call('ZADD', PENDING, score, member)
  set_state(id, STATUS.QUEUED, now)
end

-- Take a task off pending (not yet taken); returns 1 if it was there.
local function remove_pending(id)
  local place = redis.call('HGET', PLACES, id)
  if not place then return 0 end
  local _, member = string.match(place, '^(%S+) (.*)$')
  return redis.call('ZREM', PENDING, member)
end
