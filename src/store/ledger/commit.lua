-- Commit a replica's delta: index the sections of its segment and acknowledge the entries
-- they hold, in one atomic step, unless the replica has been fenced.
-- KEYS[1]: the epochs hash; KEYS[2..]: every stream, index and open-window key touched.
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] the epoch the delta was read under,
-- ARGV[4] the plan, JSON:
--   {"sections": [{"idx": key, "segment": path, "section": "OFF LEN SAMPLES STACKS",
--                  "open": key, "windows": [[member, "end ms"], ...]}, ...],
--    "acks": [{"stream": key, "ids": ["ms-seq", ...]}, ...]}
-- Returns the number of entries acknowledged. Idempotent when retried.
local held = redis.call('HGET', KEYS[1], ARGV[2])
if held ~= ARGV[3] then
  return redis.error_reply('FENCED consumer ' .. ARGV[2] .. ' now holds epoch ' ..
    tostring(held) .. '; this delta was read under epoch ' .. ARGV[3])
end
local plan = cjson.decode(ARGV[4])
for _, s in ipairs(plan.sections) do
  redis.call('HSET', s.idx, s.segment, s.section)
  for _, w in ipairs(s.windows) do
    redis.call('ZADD', s.open, 'NX', w[2], w[1])
  end
end
local acked = 0
for _, a in ipairs(plan.acks) do
  local ids = a.ids
  local i = 1
  -- unpack() is limited to a few thousand values: acknowledge in chunks.
  while i <= #ids do
    local j = math.min(i + 999, #ids)
    acked = acked + redis.call('XACK', a.stream, ARGV[1], unpack(ids, i, j))
    i = j + 1
  end
end
return acked
