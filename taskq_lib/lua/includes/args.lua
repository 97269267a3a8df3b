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
