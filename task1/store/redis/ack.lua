-- Removes a leased item for good, and tells the servers whose puts wait for
-- room.
-- KEYS[1]: the leased items (a hash: receipt -> entry)
-- KEYS[2]: the leases' deadlines (a sorted set: receipt -> end)
-- KEYS[3]: the queue's settings and counters (a hash)
-- KEYS[4]: the flag that says a put waits for room
-- KEYS[5]: the receipts of the leases this server's Sessions hold (a set)
-- ARGV[1]: the receipt
-- ARGV[2]: the channel on which waiting puts are told that room was made
-- Returns 1, or 0 when the receipt holds no lease (changing nothing).
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then
  return 0
end
local _, _, item = parse_entry(entry)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'count', -1)
redis.call('HINCRBY', KEYS[3], 'bytes', 0 - #item)
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('PUBLISH', ARGV[2], '')
end
return 1
