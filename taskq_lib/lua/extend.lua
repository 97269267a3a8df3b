--- keys: inflight
--- include: lease
-- Heartbeat: extend the leases of deliveries still held. ARGV: now_ms, lease_ms, then
-- (id, token) pairs. Returns the ids whose lease was already lost.
local deadline = num(ARGV[1], 'now') + num(ARGV[2], 'lease')
groups_of(2, 3)
local lost = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if holds(id, token) then
    redis.call('ZADD', INFLIGHT, 'XX', deadline, id)
  else
    table.insert(lost, id)
  end
end
return lost
