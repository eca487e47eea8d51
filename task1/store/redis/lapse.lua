-- Ends every lease whose deadline has passed (on Redis's clock): their items
-- go back to the head, by order (`entries.lua`), whichever server leased
-- them, alive or not.
-- KEYS[1]: the items
-- KEYS[2]: the leased items (a hash: receipt -> entry)
-- KEYS[3]: the leases' deadlines (a sorted set: receipt -> end)
-- Returns the number of items given back, and the ms until the next
-- deadline (-1 when no lease is left).
local now = now_ms()
local entries = {}
for _, receipt in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  local entry = redis.call('HGET', KEYS[2], receipt)
  if entry then
    redis.call('HDEL', KEYS[2], receipt)
    entries[#entries + 1] = entry
  end
  redis.call('ZREM', KEYS[3], receipt)
end
if #entries > 0 then
  give_back(KEYS[1], entries)
end
local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if first[2] then
  return { #entries, math.max(0, tonumber(first[2]) - now) }
end
return { #entries, -1 }
