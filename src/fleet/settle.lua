-- Settles calls admitted by admit.lua, as src/routing/{rate,circuit,budget}.rs would.
-- ARGV: prefix, the settlement's id, then operations, each a kind and its fields:
--   tokens   subject second estimate actual        the reservation corrected with the usage
--   count    subject second tokens                 a call admitted by one instance alone
--            while Redis could not be reached, counted now
--   spend    subject month minute held cost budget thresholds seed
--            the held estimate released and the cost added; budget -1: none; thresholds
--            comma-separated percentages
--   success  target
--   failure  target threshold recovery_ms
-- Reply: one array per operation: tokens and count {}; spend {spent, thresholds newly reached...};
--   success and failure {state (0 closed, 1 open, 2 half-open), failures, until_ms, trial_ms}
local P = ARGV[1]
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_s = math.floor(now_ms / 1000)
local MONTH_SECONDS = 40 * 86400

local function circuit_reply(key)
  local c = redis.call('HMGET', key, 's', 'f', 'u', 't')
  local state = ({o = 1, h = 2})[c[1]] or 0
  return {state, tonumber(c[2]) or 0, tonumber(c[3]) or 0, tonumber(c[4]) or 0}
end

-- A settlement whose answer was lost when the connection broke is sent again once Redis is
-- back: its id, kept two minutes, makes it count once (for outages up to that long).
if not redis.call('SET', P .. 's:' .. ARGV[2], 1, 'NX', 'EX', 120) then
  return {}
end
local replies, i = {}, 3
while i <= #ARGV do
  local kind = ARGV[i]
  if kind == 'tokens' then
    local subject, second = ARGV[i + 1], tonumber(ARGV[i + 2])
    local delta = tonumber(ARGV[i + 4]) - tonumber(ARGV[i + 3])
    local tok = P .. subject .. ':tok'
    -- A reservation whose second has left the window no longer counts.
    if delta ~= 0 and now_s - second < 60 and redis.call('HEXISTS', tok, second) == 1 then
      local left = redis.call('HINCRBY', tok, second, delta)
      if left < 0 then redis.call('HSET', tok, second, 0) end
    end
    replies[#replies + 1] = {}
    i = i + 5
  elseif kind == 'count' then
    local subject, second = ARGV[i + 1], tonumber(ARGV[i + 2])
    if now_s - second < 60 then
      local req, tok = P .. subject .. ':req', P .. subject .. ':tok'
      redis.call('HINCRBY', req, second, 1)
      redis.call('HINCRBY', tok, second, tonumber(ARGV[i + 3]))
      redis.call('EXPIRE', req, 120)
      redis.call('EXPIRE', tok, 120)
    end
    replies[#replies + 1] = {}
    i = i + 4
  elseif kind == 'spend' then
    local subject, month, minute = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local held, cost, budget = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
    local thresholds, seed = ARGV[i + 7], ARGV[i + 8]
    if held > 0 then
      local key = P .. subject .. ':held:' .. month
      if redis.call('HEXISTS', key, minute) == 1 then
        local left = redis.call('HINCRBY', key, minute, -held)
        if left <= 0 then redis.call('HDEL', key, minute) end
      end
    end
    local spent_key = P .. subject .. ':spent:' .. month
    redis.call('SET', spent_key, seed, 'NX', 'EX', MONTH_SECONDS)
    local spent = redis.call('INCRBY', spent_key, cost)
    local reply = {spent}
    if budget >= 0 then
      -- Each threshold once per month for the whole fleet: SADD answers 1 only to the first.
      local alerted = P .. subject .. ':alerted:' .. month
      for percent in string.gmatch(thresholds, '%d+') do
        local p = tonumber(percent)
        if spent * 100 >= budget * p and redis.call('SADD', alerted, p) == 1 then
          reply[#reply + 1] = p
        end
      end
      redis.call('EXPIRE', alerted, MONTH_SECONDS)
    end
    replies[#replies + 1] = reply
    i = i + 9
  elseif kind == 'success' then
    local key = P .. 'c:' .. ARGV[i + 1]
    redis.call('DEL', key)
    replies[#replies + 1] = circuit_reply(key)
    i = i + 2
  elseif kind == 'failure' then
    local key = P .. 'c:' .. ARGV[i + 1]
    local threshold, recovery_ms = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
    local c = redis.call('HMGET', key, 's', 'f')
    if c[1] == 'h' then
      redis.call('HSET', key, 's', 'o', 'u', now_ms + recovery_ms, 'f', 0)
    elseif c[1] ~= 'o' then
      -- A late failure from a call sent before the circuit opened changes nothing.
      local failures = (tonumber(c[2]) or 0) + 1
      if failures >= threshold then
        redis.call('HSET', key, 's', 'o', 'u', now_ms + recovery_ms, 'f', 0)
      else
        redis.call('HSET', key, 's', 'c', 'f', failures)
      end
    end
    redis.call('EXPIRE', key, 86400)
    replies[#replies + 1] = circuit_reply(key)
    i = i + 4
  else
    return redis.error_reply('unknown operation ' .. tostring(kind))
  end
end
return replies
