--- keys: pending scheduled bodies state counters places
--- include: state nudge chunked pending
-- Add tasks. ARGV: now_ms, then (id, body, due_ms, score) quadruples; due_ms 0 means "pending
-- now"; score is the task's score on pending (-priority; see includes/pending.lua).
-- All or nothing: if any id is already known, nothing is added and those ids are returned.
-- Each command is called once for the whole batch, not once per task: a call from Lua costs
-- about 1.7 us whatever it does, more than the work of one small HSET.
local now = num(ARGV[1], 'now')
groups_of(4, 2)
if #ARGV == 5 then
  -- One task, the most common call: no tables to build, HSETNX checks and stores at once.
  local id, due, score = ARGV[2], num(ARGV[4], 'due'), ARGV[5]
  num(score, 'score')
  if redis.call('HSETNX', BODIES, id, ARGV[3]) == 0 then return {id} end
  if score ~= '0' then redis.call('HSET', PLACES, id, score) end
  if due > now then
    redis.call('ZADD', SCHEDULED, due, id)
    set_state(id, STATUS.SCHEDULED, now)
  else
    redis.call('ZADD', PENDING, score, member_of(next_lines(1) + 1, id))
    set_state(id, STATUS.QUEUED, now)
  end
  redis.call('HINCRBY', COUNTERS, 'enqueued', 1)
  nudge(1)
  return {}
end
local ids = {}
for i = 2, #ARGV, 4 do
  num(ARGV[i + 2], 'due')
  num(ARGV[i + 3], 'score')
  table.insert(ids, ARGV[i])
end
local known = {}
for j, body in ipairs(call_chunked('HMGET', BODIES, ids)) do
  if body then table.insert(known, ids[j]) end
end
if #known > 0 then return known end
local line = next_lines(#ids)
local bodies, pending, later, states, places = {}, {}, {}, {}, {}
for i = 2, #ARGV, 4 do
  local id, body, due, score = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  table.insert(bodies, id); table.insert(bodies, body)
  table.insert(states, id)
  if score ~= '0' then table.insert(places, id); table.insert(places, score) end
  if due > now then
    table.insert(later, due); table.insert(later, id)
    table.insert(states, state_at(STATUS.SCHEDULED, now))
  else
    line = line + 1
    table.insert(pending, score); table.insert(pending, member_of(line, id))
    table.insert(states, state_at(STATUS.QUEUED, now))
  end
end
call_chunked('HSET', BODIES, bodies)
call_chunked('ZADD', PENDING, pending)
call_chunked('ZADD', SCHEDULED, later)
call_chunked('HSET', STATE, states)
call_chunked('HSET', PLACES, places)
redis.call('HINCRBY', COUNTERS, 'enqueued', #ids)
-- A scheduled task may now be the earliest: nudge so a waiting consumer re-plans its wait.
nudge(math.max(#pending / 2, 1))
return {}
