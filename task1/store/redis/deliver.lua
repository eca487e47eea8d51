-- Removes a taken item once the server has it in hand to answer, and tells
-- the servers whose puts wait for room. Running it twice changes nothing.
-- KEYS[1]: this server's taken items (a hash: take number -> item)
-- KEYS[2]: the queue's settings and counters (a hash)
-- KEYS[3]: the flag that says a put waits for room
-- ARGV[1]: the take's number
-- ARGV[2]: the channel on which waiting puts are told that room was made
-- Returns 1, or 0 when the item is no longer taken (it went back to the
-- queue: its caller must not get it). (0 - #item, not -#item: Lua writes
-- -0 for an empty item, which HINCRBY refuses.)
local item = redis.call('HGET', KEYS[1], ARGV[1])
if not item then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'count', -1)
local _, _, plain = parse_entry(item)
redis.call('HINCRBY', KEYS[2], 'bytes', 0 - #plain)
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('PUBLISH', ARGV[2], '')
end
return 1
