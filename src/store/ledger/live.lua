-- One consistent snapshot of a window not sealed yet, to read it while live. KEYS[1] the
-- channel's open windows, KEYS[2..] the committed sections of each hour of the window.
-- ARGV[1] the window's member in the open set, ARGV[2..] each hour's member. Answers nil when
-- the window is sealed; else, per hour, its sections (field, value, ...) while it is open,
-- or false once it is sealed (then its hourly log is final).
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return false
end
local hours = {}
for i = 2, #KEYS do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    hours[#hours + 1] = redis.call('HGETALL', KEYS[i])
  else
    hours[#hours + 1] = false
  end
end
return hours
