--- keys: pending
--- include: state
-- Put a task on pending, at the back (its turn) or at the front (it has waited longest).
local function make_pending(id, now, front)
  redis.call(front and 'LPUSH' or 'RPUSH', PENDING, id)
  set_state(id, STATUS.QUEUED, now)
end

-- Take a task off pending (to cancel it); returns 1 if it was there, else 0.
local function remove_pending(id)
  return redis.call('LREM', PENDING, 1, id)
end
