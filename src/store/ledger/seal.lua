-- Forget a sealed window: its logs are written. KEYS[1] lease, KEYS[2] the window's index
-- (an hour's committed sections; any absent key for longer windows), KEYS[3] open windows.
-- ARGV[1] lease token, ARGV[2] the window's member in the open set, ARGV[3] how many
-- sections were merged. Refused when the lease changed hands or a section arrived since.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('NOTLEASE the housekeeping lease is held by another replica')
end
if redis.call('HLEN', KEYS[2]) ~= tonumber(ARGV[3]) then
  return redis.error_reply('CHANGED a section was committed to this window after it was merged')
end
redis.call('DEL', KEYS[2])
return redis.call('ZREM', KEYS[3], ARGV[2])
