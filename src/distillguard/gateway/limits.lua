-- distillguard: admit one request against the limits of several subjects, atomically.
-- Sliding window of 60 one-second buckets for requests and tokens; a sorted set of leases
-- for concurrency. Time comes from the Redis server, so replicas with skewed clocks agree.
-- KEYS: per subject i: requests hash, tokens hash, concurrency zset (3 keys each)
-- ARGV: request_id, lease_ms, cost_tokens, then per subject: rpm, tpm, concurrency
-- returns {allowed, subject (1-based, 0 = none), dimension (1 req, 2 tok, 3 conc), limit,
--          retry_after_ms, remaining_requests, limit_requests, remaining_tokens, limit_tokens,
--          reset_ms}
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sec = tonumber(t[1])
local rid = ARGV[1]
local lease = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local n = #KEYS / 3

local function window(key)
  local data = redis.call('HGETALL', key)
  local sum, oldest, stale = 0, nil, {}
  for i = 1, #data, 2 do
    local b = tonumber(data[i])
    if b <= sec - 60 then
      stale[#stale + 1] = data[i]
    else
      sum = sum + tonumber(data[i + 1])
      if oldest == nil or b < oldest then oldest = b end
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  return sum, oldest
end

local rem_req, lim_req, rem_tok, lim_tok, reset_ms = -1, 0, -1, 0, 0
for i = 1, n do
  local rpm = tonumber(ARGV[3 + (i - 1) * 3 + 1])
  local tpm = tonumber(ARGV[3 + (i - 1) * 3 + 2])
  local conc = tonumber(ARGV[3 + (i - 1) * 3 + 3])
  local rk, tk, ck = KEYS[(i - 1) * 3 + 1], KEYS[(i - 1) * 3 + 2], KEYS[(i - 1) * 3 + 3]
  if rpm > 0 then
    local used, oldest = window(rk)
    local retry = oldest and ((oldest + 60) * 1000 - now_ms) or 1000
    if used + 1 > rpm then
      return {0, i, 1, rpm, retry, 0, rpm, 0, 0, retry}
    end
    if rem_req < 0 or rpm - used - 1 < rem_req then
      rem_req, lim_req = rpm - used - 1, rpm
      reset_ms = retry
    end
  end
  if tpm > 0 then
    local used, oldest = window(tk)
    local retry = oldest and ((oldest + 60) * 1000 - now_ms) or 1000
    if used + cost > tpm then
      return {0, i, 2, tpm, retry, 0, 0, math.max(tpm - used, 0), tpm, retry}
    end
    if rem_tok < 0 or tpm - used - cost < rem_tok then
      rem_tok, lim_tok = tpm - used - cost, tpm
    end
  end
  if conc > 0 then
    redis.call('ZREMRANGEBYSCORE', ck, '-inf', now_ms)
    if redis.call('ZCARD', ck) + 1 > conc then
      return {0, i, 3, conc, 1000, 0, 0, 0, 0, 1000}
    end
  end
end
for i = 1, n do
  local rpm = tonumber(ARGV[3 + (i - 1) * 3 + 1])
  local tpm = tonumber(ARGV[3 + (i - 1) * 3 + 2])
  local conc = tonumber(ARGV[3 + (i - 1) * 3 + 3])
  local rk, tk, ck = KEYS[(i - 1) * 3 + 1], KEYS[(i - 1) * 3 + 2], KEYS[(i - 1) * 3 + 3]
  if rpm > 0 then
    redis.call('HINCRBY', rk, sec, 1)
    redis.call('EXPIRE', rk, 120)
  end
  if tpm > 0 then
    redis.call('HINCRBY', tk, sec, cost)
    redis.call('EXPIRE', tk, 120)
  end
  if conc > 0 then
    redis.call('ZADD', ck, now_ms + lease, rid)
    redis.call('PEXPIRE', ck, lease + 1000)
  end
end
return {1, 0, 0, 0, 0, math.max(rem_req, 0), lim_req, math.max(rem_tok, 0), lim_tok, reset_ms}
