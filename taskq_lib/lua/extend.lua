-- Heartbeat: extend the leases of deliveries still held. ARGV: now_ms, lease_ms, then
-- (id, token) pairs. Returns the ids whose lease was already lost.
local deadline = tonumber(ARGV[1]) + tonumber(ARGV[2])
local lost = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', TOKENS, id) == token then
    redis.call('ZADD', INFLIGHT, 'XX', deadline, id)
  else
    table.insert(lost, id)
  end
end
return lost
