-- Bridge mode: append pub/sub messages to their streams, only while ARGV[1] holds the
-- writer lease, so an instance that lost the lease (paused, partitioned) can never append
-- after the one that took it over read where it stopped.
-- KEYS[1] writer lease, KEYS[2] the last batch appended; then, per channel, its stream
-- and its tail list.
-- ARGV[1] token, ARGV[2] stream cap ('0': none), ARGV[3] tail length, ARGV[4] this
-- batch's id (token and sequence: a batch sent again after a lost answer is not appended
-- twice), then pairs of (channel number, from 1; payload).
-- Returns the number of entries appended (0 for a batch already appended), or -1 when
-- ARGV[1] does not hold the lease.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('GET', KEYS[2]) == ARGV[4] then return 0 end
redis.call('SET', KEYS[2], ARGV[4])
local cap, keep = ARGV[2], tonumber(ARGV[3])
local touched = {}
local n = 0
for i = 5, #ARGV, 2 do
  local c = tonumber(ARGV[i])
  local stream, tail = KEYS[2 * c + 1], KEYS[2 * c + 2]
  if cap == '0' then
    redis.call('XADD', stream, '*', 'data', ARGV[i + 1])
  else
    redis.call('XADD', stream, 'MAXLEN', '~', cap, '*', 'data', ARGV[i + 1])
  end
  redis.call('LPUSH', tail, ARGV[i + 1])
  touched[tail] = true
  n = n + 1
end
for tail in pairs(touched) do
  redis.call('LTRIM', tail, 0, keep - 1)
end
return n
