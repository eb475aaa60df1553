-- Bridge mode's writer lease, kept by the instance subscribed the longest. KEYS[1] the
-- lease, KEYS[2] the subscriptions (hash: token -> "RUN_ID SEQ DEADLINE_MS"), KEYS[3] the
-- subscription counter. ARGV[1] token, ARGV[2] lease ttl ms, ARGV[3] this instance's
-- subscription: 'new' (just subscribed), 'kept' (still subscribed since its last call) or
-- 'none' (not subscribed), ARGV[4] how long a subscription record lives unrenewed (ms).
--
-- A subscription's number comes from the counter when it starts, so a smaller number is an
-- older subscription. Records of an earlier Redis process (another run_id: every
-- subscription ended when it stopped) or not renewed in time are dropped.
-- Returns 1: `token` holds the lease; 0: it does not; 2: it holds the lease but another
-- instance has been subscribed longer, so it must step down (the lease is kept meanwhile).
local token, ttl, subscription, keep = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')

local mine = nil
if subscription == 'none' then
  redis.call('HDEL', KEYS[2], token)
else
  local seq = nil
  if subscription == 'kept' then
    local record = redis.call('HGET', KEYS[2], token)
    if record then
      local record_run, record_seq = string.match(record, '^(%x+) (%d+) ')
      if record_run == run then seq = record_seq end
    end
  end
  -- A lapsed record is renumbered: the subscription then looks younger than it is, which
  -- at worst makes it step down once without need.
  if seq == nil then seq = tostring(redis.call('INCR', KEYS[3])) end
  redis.call('HSET', KEYS[2], token, run .. ' ' .. seq .. ' ' .. tostring(now + keep))
  mine = tonumber(seq)
end

local older = false
local records = redis.call('HGETALL', KEYS[2])
for i = 1, #records, 2 do
  local record_run, record_seq, deadline = string.match(records[i + 1], '^(%x+) (%d+) (%d+)$')
  if record_run ~= run or deadline == nil or tonumber(deadline) <= now then
    redis.call('HDEL', KEYS[2], records[i])
  elseif records[i] ~= token and (mine == nil or tonumber(record_seq) < mine) then
    older = true
  end
end

local holder = redis.call('GET', KEYS[1])
if holder == token then
  redis.call('PEXPIRE', KEYS[1], ttl)
  if older then return 2 end
  return 1
end
if holder == false and not older then
  redis.call('SET', KEYS[1], token, 'PX', ttl)
  return 1
end
return 0
