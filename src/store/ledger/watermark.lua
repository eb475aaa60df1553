-- How far a stream is final. KEYS[1] stream. ARGV[1] group, ARGV[2] grace ms.
-- Returns {W, T}:
-- * W (ms): every entry below W is acknowledged by ARGV[1]'s group and no entry below W
--   can still be added, so windows ending at or before W can be sealed;
-- * T (id): every group reading this stream has acknowledged every entry below T, so
--   XTRIM MINID T removes nothing any group still needs.
-- {0, '0-0'} when the stream or the group does not exist. One script, so that no entry can
-- be delivered or added between the reads it makes.
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return {0, '0-0'} end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w, trim
for _, g in ipairs(groups) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  local last = f['last-delivered-id']
  -- The lowest id this group still needs: its oldest pending entry, else its first
  -- undelivered one; nothing when it has acknowledged all it was given and all there is.
  local need
  local p = redis.call('XPENDING', KEYS[1], f['name'])
  if p[1] > 0 then
    need = p[2]
  else
    local u = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
    if u[1] then need = u[1][1] end
  end
  if f['name'] == ARGV[1] then
    w = now - tonumber(ARGV[2])
    if need then
      local ms = parse(need)
      if ms < w then w = ms end
    end
  end
  local bound = need or last
  if trim == nil or less(bound, trim) then trim = bound end
end
if not w then return {0, '0-0'} end
return {w, trim}
