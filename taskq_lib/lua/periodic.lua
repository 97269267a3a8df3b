--- keys: bodies counters periodic
--- include: state pending nudge
-- Claim one tick of a periodic schedule and enqueue its task, in one step: however many
-- schedulers run, one task per tick; a crash cannot leave a claim without its task.
-- ARGV: now_ms, schedule name, tick_ms, id, body.
-- Returns 1: enqueued; 0: this tick (or a later one) was claimed already; -1: the schedule
-- was never seen before, so its first tick is only recorded (it starts at the next one).
-- Ticks missed while no scheduler ran are not run one by one: the first scheduler back
-- claims the latest tick only, so an outage costs one run, not a burst.
local now, name, tick, id, body = num(ARGV[1], 'now'), ARGV[2], num(ARGV[3], 'tick'), ARGV[4], ARGV[5]
local last = redis.call('HGET', PERIODIC, name)
if last and num(last, 'last tick') >= tick then return 0 end
redis.call('HSET', PERIODIC, name, string.format('%d', tick))
if not last then return -1 end
if redis.call('HSETNX', BODIES, id, body) == 0 then return 0 end
make_pending(id, now, false)
redis.call('HINCRBY', COUNTERS, 'enqueued', 1)
nudge(1)
return 1
