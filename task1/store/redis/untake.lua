-- Returns one taken item to the head of the queue: its caller gave up
-- before it was delivered. Running it twice changes nothing.
-- KEYS[1]: the items
-- KEYS[2]: this server's taken items (a hash: take number -> item)
-- ARGV[1]: the take's number
-- Returns 1, or 0 when the item is no longer taken.
local item = redis.call('HGET', KEYS[2], ARGV[1])
if not item then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('LPUSH', KEYS[1], item)
return 1
