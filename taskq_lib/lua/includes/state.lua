--- keys: state
-- One field holds the status and its time: one call per status change, not two.
local function state_at(status, now)
  return status .. ':' .. string.format('%d', now)
end

local function set_state(id, status, now)
  redis.call('HSET', STATE, id, state_at(status, now))
end
