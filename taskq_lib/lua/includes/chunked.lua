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
