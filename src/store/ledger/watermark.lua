-- How far a stream is final. KEYS[1] stream. ARGV[1] group, ARGV[2] grace ms.
-- Returns {W, T}: every entry below W ms is acknowledged and no entry below W can still be
-- added (so windows ending at or before W can be sealed); every entry below id T is
-- acknowledged (XTRIM MINID T is safe). {0, '0-0'} when the stream or group is missing.
-- One script, so that no entry can be delivered between the reads it makes.
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return {0, '0-0'} end
local last
for _, g in ipairs(groups) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  if f['name'] == ARGV[1] then last = f['last-delivered-id'] end
end
if not last then return {0, '0-0'} end
local t = redis.call('TIME')
local w = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[2])
local p = redis.call('XPENDING', KEYS[1], ARGV[1])
local u = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
local trim = last
if u[1] then trim = u[1][1] end
if p[1] > 0 then trim = p[2] end
if p[1] > 0 or u[1] then
  local ms = tonumber(string.match(trim, '^(%d+)'))
  if ms < w then w = ms end
end
return {w, trim}
