-- Palisade limits: admits one request against every bucket that applies to it, or
-- reserves nothing. One call, so Redis runs it atomically: no other admission can
-- interleave between the checks and the reservations.
--
-- KEYS[i]  the bucket of check i
-- ARGV[1]  now, unix microseconds, from the calling instance's clock (not Redis TIME, so
--          tests can move time and every instance decides by the same rule)
-- ARGV[2]  this admission's lease id (concurrency buckets)
-- ARGV[3]  the lease's expiry, unix microseconds
-- ARGV[4]  the lease's TTL, milliseconds
-- then four per check: kind, limit, amount, ttl (ms)
--   kind 1: rate bucket (GCRA in its continuous-state form): a hash {l = level, t = time};
--           the level drains `limit` units per minute; admits if level + max(amount, 1)
--           fits under limit. ttl unused: the key expires when the level has drained.
--   kind 2: budget counter of one calendar window; admits if spent < limit and
--           spent + amount <= limit. ttl: until the window ends, plus grace.
--   kind 3: concurrency: a sorted set of lease ids scored by expiry; expired leases are
--           dropped first; admits if fewer than `limit` remain.
-- Returns {admitted, state_1, ..., state_n} as strings: 1 or 0, then each check's level,
-- spend or count, after the reservation if admitted, before it if not.
local now = tonumber(ARGV[1])
local lease = ARGV[2]
local lease_expiry = tonumber(ARGV[3])
local lease_ttl = tonumber(ARGV[4])
local period = 60000000
local n = #KEYS
local state = {}
local times = {}
local admitted = true

for i = 1, n do
  local b = 4 + (i - 1) * 4
  local kind = tonumber(ARGV[b + 1])
  local limit = tonumber(ARGV[b + 2])
  local amount = tonumber(ARGV[b + 3])
  local key = KEYS[i]
  if kind == 1 then
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
    state[i] = level
    times[i] = t
    local needed = amount
    if needed < 1 then needed = 1 end
    if level + needed > limit then admitted = false end
  elseif kind == 2 then
    local spent = tonumber(redis.call('GET', key) or '0')
    state[i] = spent
    if spent >= limit or spent + amount > limit then admitted = false end
  else
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local count = redis.call('ZCARD', key)
    state[i] = count
    if count >= limit then admitted = false end
  end
end

if admitted then
  for i = 1, n do
    local b = 4 + (i - 1) * 4
    local kind = tonumber(ARGV[b + 1])
    local limit = tonumber(ARGV[b + 2])
    local key = KEYS[i]
    if kind == 1 then
      local level = state[i] + tonumber(ARGV[b + 3])
      redis.call('HSET', key, 'l', level, 't', times[i])
      redis.call('PEXPIRE', key, math.ceil(level * period / limit / 1000) + 1000)
      state[i] = level
    elseif kind == 2 then
      state[i] = redis.call('INCRBY', key, ARGV[b + 3])
      redis.call('PEXPIRE', key, ARGV[b + 4])
    else
      redis.call('ZADD', key, lease_expiry, lease)
      redis.call('PEXPIRE', key, lease_ttl)
      state[i] = state[i] + 1
    end
  end
end

local out = { admitted and '1' or '0' }
for i = 1, n do
  out[i + 1] = string.format('%.17g', state[i])
end
return out
