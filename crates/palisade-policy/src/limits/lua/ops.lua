-- Palisade limits: settles, releases or renews what one admission reserved.
--
-- KEYS[i]  the bucket of operation i
-- ARGV[1]  now, unix microseconds (the calling instance's clock)
-- then four per operation: kind, a, b, c
--   kind 1: rate bucket: add b units (negative: refund, never below empty; at most a day
--           of the limit) to a bucket draining a = limit units per minute
--   kind 2: budget counter: add a (negative: refund, never below zero); b = TTL (ms)
--   kind 3: concurrency: remove lease a
--   kind 4: concurrency: extend lease a to expiry b (unix µs), bucket TTL c (ms)
-- Returns the number of operations applied.
local now = tonumber(ARGV[1])
local period = 60000000
local n = #KEYS

for i = 1, n do
  local b = 1 + (i - 1) * 4
  local kind = tonumber(ARGV[b + 1])
  local key = KEYS[i]
  if kind == 1 then
    local limit = tonumber(ARGV[b + 2])
    local delta = tonumber(ARGV[b + 3])
    local level, t = 0, now
    local v = redis.call('HMGET', key, 'l', 't')
    if v[1] then
      level = tonumber(v[1])
      t = tonumber(v[2])
      if now > t then
        level = level - (now - t) * limit / period
        if level < 0 then level = 0 end
        t = now
      end
    end
    level = level + delta
    if level > limit * 1440 then level = limit * 1440 end
    if level <= 0 then
      redis.call('DEL', key)
    else
      redis.call('HSET', key, 'l', level, 't', t)
      redis.call('PEXPIRE', key, math.ceil(level * period / limit / 1000) + 1000)
    end
  elseif kind == 2 then
    local spent = redis.call('INCRBY', key, ARGV[b + 2])
    if spent <= 0 then
      redis.call('DEL', key)
    else
      redis.call('PEXPIRE', key, ARGV[b + 3])
    end
  elseif kind == 3 then
    redis.call('ZREM', key, ARGV[b + 2])
  else
    if redis.call('ZADD', key, 'XX', 'CH', ARGV[b + 3], ARGV[b + 2]) > 0 then
      redis.call('PEXPIRE', key, ARGV[b + 4])
    end
  end
end
return n
