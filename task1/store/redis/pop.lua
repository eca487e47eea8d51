-- Removes the head item, and tells the servers whose puts wait for room.
-- KEYS[1]: the list to take the item from: the items (a pop that does not
--          wait), or a server's in-flight list (the item a blocking pop moved
--          there, which this delivers)
-- KEYS[2]: the queue's settings and counters (a hash)
-- KEYS[3]: the flag that says a put waits for room
-- ARGV[1]: the channel on which waiting puts are told that room was made
-- Returns the item, or nil when the list is empty. (0 - #item, not -#item:
-- Lua writes -0 for an empty item, which HINCRBY refuses.)
local item = redis.call('LPOP', KEYS[1])
if not item then
  return false
end
redis.call('HINCRBY', KEYS[2], 'count', -1)
redis.call('HINCRBY', KEYS[2], 'bytes', 0 - #item)
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('PUBLISH', ARGV[1], '')
end
return item
