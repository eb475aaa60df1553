-- Entries trimmed from a stream before a group read them.
-- KEYS[1] stream, KEYS[2] the loss reported so far, KEYS[3] the loss found before the
-- group's first read. ARGV[1] group, ARGV[2] 'baseline' or 'report'.
-- * 'baseline' (before a replica's first read): a group that has never read anything has
--   missed every entry added and no longer in the stream. Recorded once; returns 0.
-- * 'report': once the group has read everything there is, its lag (entries added minus
--   entries read) is what it never saw since its first read. Returns the loss not reported
--   yet (baseline + lag - reported) and records it; 0 while the group is behind.
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return 0 end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local stream = {}
for i = 1, #info, 2 do stream[info[i]] = info[i + 1] end
for _, g in ipairs(groups) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  if f['name'] == ARGV[1] then
    if ARGV[2] == 'baseline' then
      if not f['entries-read'] and f['last-delivered-id'] == '0-0' then
        local missed = tonumber(stream['entries-added']) - tonumber(stream['length'])
        redis.call('SET', KEYS[3], missed, 'NX')
      end
      return 0
    end
    if f['last-delivered-id'] ~= stream['last-generated-id'] or not f['lag'] then
      return 0
    end
    local total = tonumber(redis.call('GET', KEYS[3]) or '0') + tonumber(f['lag'])
    local reported = tonumber(redis.call('GET', KEYS[2]) or '0')
    if total > reported then
      redis.call('SET', KEYS[2], total)
      return total - reported
    end
    return 0
  end
end
return 0
