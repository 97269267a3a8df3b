--- keys: state
-- Tell waiters (`wait`) that tasks reached a final state: one PUBLISH per call, a JSON list
-- of ids, on the queue's channel `taskq:{name}:finished` (named like its keys; a channel
-- stores nothing). With nobody subscribed it costs one call.
local FINISHED = string.gsub(STATE, 'state$', 'finished')
local function announce(ids)
  if #ids > 0 then redis.call('PUBLISH', FINISHED, cjson.encode(ids)) end
end
