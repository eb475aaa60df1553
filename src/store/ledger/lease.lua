-- Take, keep or release the housekeeping lease. KEYS[1] lease. ARGV[1] token, ARGV[2] ttl
-- ms (0 releases). Returns 1 while `token` holds the lease.
local cur = redis.call('GET', KEYS[1])
if ARGV[2] == '0' then
  if cur == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 0
end
if cur == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
