-- Take over entries another consumer has left pending longer than min_idle: fence each
-- owner first (its epoch is bumped, so a commit it makes later fails FENCED), then XCLAIM.
-- KEYS[1] stream, KEYS[2] epochs hash.
-- ARGV[1] group, ARGV[2] me, ARGV[3] min idle ms, ARGV[4] count, ARGV[5] start ('-' or '(' .. id)
-- Returns {next start ('0' when done), entries lost (trimmed while pending), entries...}.
local group, me, idle, count = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local rows = redis.call('XPENDING', KEYS[1], group, 'IDLE', idle, ARGV[5], '+', count)
local ids, fenced = {}, {}
for _, r in ipairs(rows) do
  if r[2] ~= me then
    ids[#ids + 1] = r[1]
    if not fenced[r[2]] then
      fenced[r[2]] = true
      redis.call('HINCRBY', KEYS[2], r[2], 1)
    end
  end
end
local next_start = '0'
if #rows == count then next_start = '(' .. rows[#rows][1] end
if #ids == 0 then return {next_start, 0} end
local claimed = redis.call('XCLAIM', KEYS[1], group, me, idle, unpack(ids))
local out = {next_start, #ids - #claimed}
for _, e in ipairs(claimed) do out[#out + 1] = e end
return out
