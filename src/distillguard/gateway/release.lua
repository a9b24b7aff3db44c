-- distillguard: release one request's concurrency slots and charge its extra tokens.
-- KEYS: per subject i: tokens hash, concurrency zset (2 keys each)
-- ARGV: request_id, extra_tokens (actual minus estimated; may be negative), then per subject:
--       tpm, concurrency
local t = redis.call('TIME')
local sec = tonumber(t[1])
local rid = ARGV[1]
local extra = tonumber(ARGV[2])
local n = #KEYS / 2
for i = 1, n do
  local tpm = tonumber(ARGV[2 + (i - 1) * 2 + 1])
  local conc = tonumber(ARGV[2 + (i - 1) * 2 + 2])
  if tpm > 0 and extra ~= 0 then
    redis.call('HINCRBY', KEYS[(i - 1) * 2 + 1], sec, extra)
    redis.call('EXPIRE', KEYS[(i - 1) * 2 + 1], 120)
  end
  if conc > 0 then
    redis.call('ZREM', KEYS[(i - 1) * 2 + 2], rid)
  end
end
return 1
