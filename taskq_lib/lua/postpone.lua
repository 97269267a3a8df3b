--- keys: scheduled attempts
--- include: lease state nudge
-- Hand back a delivery that was not run (a rate limit said wait). ARGV: now_ms, id, token,
-- run_at_ms. It waits in scheduled until run_at, and this delivery is not counted as an attempt.
-- Returns 1, or 0 if the token is not current (the lease was lost: nothing changes).
local now, id, token, run_at = num(ARGV[1], 'now'), ARGV[2], ARGV[3], num(ARGV[4], 'run_at')
if not holds(id, token) then return 0 end
release_lease(id)
redis.call('HINCRBY', ATTEMPTS, id, -1)
redis.call('ZADD', SCHEDULED, run_at, id)
set_state(id, STATUS.SCHEDULED, now)
nudge(1)  -- a consumer blocked waiting must plan its wait around this new due time
return 1
