-- Admits one provider call (and, on a request's first call, its gateway key) against the
-- fleet's shared state, all or nothing: every check is made first, and only when all pass is
-- anything counted. The rules are those of src/routing/{rate,circuit,budget}.rs, which
-- tests/proxy/fleet.rs holds this script to.
--
-- ARGV: prefix, then checks, each a kind and its fields:
--   rate    subject rpm tpm tokens          (rpm / tpm -1: no limit)
--   budget  subject month budget held seed  (micro-dollars; budget -1: no hard budget)
--   circuit target threshold recovery_ms
-- Reply: {1, now_ms, circuit}  circuit 0 none checked, 1 allowed, 2 the half-open trial
--    or  {0, index of the failed check (1-based), reason, a, b}
--        reason 1 requests (limit, retry_after_ms), 2 tokens (limit, retry_after_ms),
--               3 too large (tokens, limit), 4 budget (spent + held, budget),
--               5 circuit open (until_ms), 6 trial in flight (trial started ms)
local P = ARGV[1]
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_s = math.floor(now_ms / 1000)
local now_min = math.floor(now_ms / 60000)
local WINDOW = 60
local HELD_MINUTES = 15

-- The live one-second buckets of a window, oldest first; stale ones are dropped.
local function buckets(subject)
  local req, tok = P .. subject .. ':req', P .. subject .. ':tok'
  local rows = redis.call('HGETALL', req)
  local toks = redis.call('HGETALL', tok)
  local tokens = {}
  for i = 1, #toks, 2 do tokens[toks[i]] = tonumber(toks[i + 1]) end
  local live, stale = {}, {}
  for i = 1, #rows, 2 do
    local s = tonumber(rows[i])
    if s <= now_s and now_s - s < WINDOW then
      live[#live + 1] = {s, tonumber(rows[i + 1]), tokens[rows[i]] or 0}
    elseif s < now_s then
      stale[#stale + 1] = rows[i]
    end
  end
  if #stale > 0 then
    redis.call('HDEL', req, unpack(stale))
    redis.call('HDEL', tok, unpack(stale))
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  return live
end

-- Milliseconds until the oldest buckets holding at least `excess` have left the window.
local function wait(live, excess, field)
  local freed = 0
  for _, b in ipairs(live) do
    freed = freed + b[field]
    if freed >= excess then return math.max((b[1] + WINDOW) * 1000 - now_ms, 0) end
  end
  return WINDOW * 1000
end

local function check_rate(subject, rpm, tpm, tokens)
  local live = buckets(subject)
  local requests, used = 0, 0
  for _, b in ipairs(live) do
    requests = requests + b[2]
    used = used + b[3]
  end
  if rpm >= 0 and requests >= rpm then
    return {1, rpm, wait(live, requests + 1 - rpm, 2)}
  end
  if tpm >= 0 then
    if tokens > tpm then return {3, tokens, tpm} end
    if used + tokens > tpm then return {2, tpm, wait(live, used + tokens - tpm, 3)} end
  end
  return nil
end

local function held(subject, month)
  local key = P .. subject .. ':held:' .. month
  local rows = redis.call('HGETALL', key)
  local total, stale = 0, {}
  for i = 1, #rows, 2 do
    if now_min - tonumber(rows[i]) < HELD_MINUTES then
      total = total + tonumber(rows[i + 1])
    else
      stale[#stale + 1] = rows[i]
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  return total
end

local function check_budget(subject, month, budget, seed)
  local spent_key = P .. subject .. ':spent:' .. month
  -- First use this month (or a flushed Redis): start from what the database says.
  redis.call('SET', spent_key, seed, 'NX', 'EX', 40 * 86400)
  if budget < 0 then return nil end
  local committed = tonumber(redis.call('GET', spent_key)) + held(subject, month)
  if committed >= budget then return {4, committed, budget} end
  return nil
end

local function check_circuit(target, recovery_ms)
  local c = redis.call('HMGET', P .. 'c:' .. target, 's', 'u', 't')
  local state = c[1]
  if state == 'o' then
    local until_ms = tonumber(c[2])
    if now_ms < until_ms then return {5, until_ms, 0}, 0 end
    return nil, 2
  elseif state == 'h' then
    local started = tonumber(c[3])
    if now_ms < started + recovery_ms then return {6, started, 0}, 0 end
    return nil, 2
  end
  return nil, 1
end

-- Parse, then check everything.
local checks, i = {}, 2
while i <= #ARGV do
  local kind = ARGV[i]
  if kind == 'rate' then
    checks[#checks + 1] = {kind, ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])}
    i = i + 5
  elseif kind == 'budget' then
    checks[#checks + 1] = {kind, ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), ARGV[i + 5]}
    i = i + 6
  elseif kind == 'circuit' then
    checks[#checks + 1] = {kind, ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])}
    i = i + 4
  else
    return redis.error_reply('unknown check ' .. tostring(kind))
  end
end
local circuit = 0
for index, c in ipairs(checks) do
  local failed
  if c[1] == 'rate' then
    failed = check_rate(c[2], c[3], c[4], c[5])
  elseif c[1] == 'budget' then
    failed = check_budget(c[2], c[3], c[4], c[6])
  else
    failed, circuit = check_circuit(c[2], c[4])
  end
  if failed then return {0, index, failed[1], failed[2], failed[3]} end
end

-- All passed: count the call.
for _, c in ipairs(checks) do
  if c[1] == 'rate' then
    local req, tok = P .. c[2] .. ':req', P .. c[2] .. ':tok'
    redis.call('HINCRBY', req, now_s, 1)
    redis.call('HINCRBY', tok, now_s, c[5])
    redis.call('EXPIRE', req, 2 * WINDOW)
    redis.call('EXPIRE', tok, 2 * WINDOW)
  elseif c[1] == 'budget' then
    if c[5] > 0 then
      local key = P .. c[2] .. ':held:' .. c[3]
      redis.call('HINCRBY', key, now_min, c[5])
      redis.call('EXPIRE', key, 2 * HELD_MINUTES * 60)
    end
  elseif circuit == 2 then
    local key = P .. 'c:' .. c[2]
    redis.call('HSET', key, 's', 'h', 't', now_ms)
    redis.call('EXPIRE', key, 86400)
  end
end
return {1, now_ms, circuit}
