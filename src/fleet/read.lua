-- The fleet's live figures, for the dashboards and this instance's mirror, read-only.
-- ARGV: prefix, month, the number of subjects (accounts `a:…`, gateway keys `k:…`), the
-- subjects, then the targets.
-- Reply: per subject {requests, tokens, spent} in the last 60 s and this month (spent -1 while
-- it has no counter), then per
-- target {state (0 closed, 1 open, 2 half-open), failures, until_ms, trial_ms}.
local P, month = ARGV[1], ARGV[2]
local subjects = tonumber(ARGV[3])
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local replies = {}
for i = 4, 3 + subjects do
  local subject = ARGV[i]
  local function sum(key)
    local rows, total = redis.call('HGETALL', P .. subject .. key), 0
    for j = 1, #rows, 2 do
      local s = tonumber(rows[j])
      if s <= now_s and now_s - s < 60 then total = total + tonumber(rows[j + 1]) end
    end
    return total
  end
  local spent = tonumber(redis.call('GET', P .. subject .. ':spent:' .. month) or '-1')
  replies[#replies + 1] = {sum(':req'), sum(':tok'), spent}
end
for i = 4 + subjects, #ARGV do
  local c = redis.call('HMGET', P .. 'c:' .. ARGV[i], 's', 'f', 'u', 't')
  replies[#replies + 1] = {({o = 1, h = 2})[c[1]] or 0, tonumber(c[2]) or 0, tonumber(c[3]) or 0, tonumber(c[4]) or 0}
end
return replies
