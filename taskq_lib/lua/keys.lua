-- Shared header, prepended to every script. Every key of one queue shares the hash tag
-- {name}, and every script receives in KEYS every key it touches, so the scripts are correct
-- on Redis Cluster. The state of task <id> is spread over per-queue hashes keyed by <id>.
-- The keys enqueue touches come first: it is sent only those (fewer to send and parse on the
-- hottest call), so the names after COUNTERS are nil in it.
local PENDING   = KEYS[1]   -- list: ids ready to run, oldest first
local SCHEDULED = KEYS[2]   -- zset: id -> due time (ms); delayed tasks and retries
local BODIES    = KEYS[3]   -- hash: id -> task JSON, as enqueued (never rewritten)
-- One field holds the status and its time: one call per status change, not two.
local STATE     = KEYS[4]   -- hash: id -> "status:ms", e.g. "queued:1700000000000"
local WAKEUP    = KEYS[5]   -- list: a nudge for consumers blocked waiting for work
local COUNTERS  = KEYS[6]   -- hash: totals since the queue was created
local INFLIGHT  = KEYS[7]   -- zset: id -> lease deadline (ms)
local TOKENS    = KEYS[8]   -- hash: id -> token of the current delivery
local DEAD      = KEYS[9]   -- zset: id -> time of death (ms); the dead-letter queue
local DONE      = KEYS[10]  -- zset: id -> time of success (ms); kept for the retention time
local ATTEMPTS  = KEYS[11]  -- hash: id -> deliveries so far
local ERRORS    = KEYS[12]  -- hash: id -> last error JSON
local RESULTS   = KEYS[13]  -- hash: id -> result JSON

-- Arguments are checked before anything is written: a script that fails part-way through
-- would leave its first writes in place (Redis does not roll scripts back).
local function num(value, what)
  local n = tonumber(value)
  if n == nil then error('taskq: ' .. what .. ' must be a number, got ' .. tostring(value)) end
  return n
end

local function groups_of(size, first)
  if (#ARGV - first + 1) % size ~= 0 then
    error('taskq: expected arguments in groups of ' .. size .. ', got ' .. (#ARGV - first + 1))
  end
end

local function state_at(state, now)
  return state .. ':' .. string.format('%d', now)
end

local function set_state(id, state, now)
  redis.call('HSET', STATE, id, state_at(state, now))
end

local function forget(id)
  redis.call('HDEL', BODIES, id)
  redis.call('HDEL', STATE, id)
  redis.call('HDEL', ATTEMPTS, id)
  redis.call('HDEL', ERRORS, id)
  redis.call('HDEL', RESULTS, id)
end

local NUDGES = {1, 1, 1, 1, 1, 1, 1, 1}
local function nudge(n)
  -- Wake up to n blocked consumers, in one call; the list stays short whatever happens.
  -- Past 64 nobody is blocked (they would have popped): cut back to 8, so that a queue
  -- nobody waits on pays for the trim once in 57 nudges, not on every one.
  if redis.call('RPUSH', WAKEUP, unpack(NUDGES, 1, math.max(1, math.min(n, 8)))) > 64 then
    redis.call('LTRIM', WAKEUP, 0, 7)
  end
end

-- `command key item1 item2 ...` in slices (Lua's unpack has a stack limit); returns the
-- replies of a command that answers with a list, joined.
local function call_chunked(command, key, items)
  local out = {}
  for first = 1, #items, 1000 do
    local reply = redis.call(command, key, unpack(items, first, math.min(first + 999, #items)))
    if type(reply) == 'table' then
      for _, v in ipairs(reply) do table.insert(out, v) end
    end
  end
  return out
end

local function bury(id, now, error_json)
  redis.call('ZREM', INFLIGHT, id)
  redis.call('HDEL', TOKENS, id)
  -- Scores of equal time sort by member, not by arrival: nudge ties apart to keep the order.
  local last = redis.call('ZRANGE', DEAD, -1, -1, 'WITHSCORES')[2]
  local score = now
  if last and tonumber(last) >= now then score = tonumber(last) + 0.001 end
  redis.call('ZADD', DEAD, score, id)
  redis.call('HSET', ERRORS, id, error_json)
  set_state(id, 'dead', now)
  redis.call('HINCRBY', COUNTERS, 'dead', 1)
end
