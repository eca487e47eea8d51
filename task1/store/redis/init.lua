-- Stores the queue's capacity and byte bound unless it has them already.
-- KEYS[1]: the queue's settings and counters (a hash)
-- ARGV[1], ARGV[2]: capacity and maxBytes
-- Returns the stored capacity and maxBytes, as strings.
if redis.call('HSETNX', KEYS[1], 'capacity', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'maxBytes', ARGV[2], 'count', 0, 'bytes', 0)
end
return redis.call('HMGET', KEYS[1], 'capacity', 'maxBytes')
