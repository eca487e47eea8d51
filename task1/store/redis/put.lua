-- Appends an item if the queue has room for it, by count and by bytes.
-- KEYS[1]: the items (a list, head on the left)
-- KEYS[2]: the queue's settings and counters (a hash: capacity, maxBytes,
--          count and bytes, the last two including items in flight)
-- KEYS[3]: the flag that says a put waits for room (a string with a TTL)
-- ARGV[1]: the item
-- ARGV[2], ARGV[3]: capacity and maxBytes, stored if the queue has none
-- ARGV[4]: how long to raise the flag for if there is no room, in ms; 0 not
-- Returns 1 when the item was appended, 0 when there was no room.
local meta = redis.call('HMGET', KEYS[2], 'capacity', 'maxBytes', 'count', 'bytes')
if not meta[1] then
  redis.call('HSET', KEYS[2], 'capacity', ARGV[2], 'maxBytes', ARGV[3], 'count', 0, 'bytes', 0)
  meta = { ARGV[2], ARGV[3], 0, 0 }
end
local bytes = #ARGV[1]
if tonumber(meta[3] or 0) >= tonumber(meta[1])
    or tonumber(meta[4] or 0) + bytes > tonumber(meta[2]) then
  if ARGV[4] ~= '0' then
    redis.call('SET', KEYS[3], '1', 'PX', ARGV[4])
  end
  return 0
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'count', 1)
redis.call('HINCRBY', KEYS[2], 'bytes', bytes)
return 1
