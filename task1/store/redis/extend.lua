-- Moves the end of a lease to a given time from now.
-- KEYS[1]: the leased items (a hash: receipt -> entry)
-- KEYS[2]: the leases' deadlines (a sorted set: receipt -> end)
-- ARGV[1]: the receipt
-- ARGV[2]: the lease's new length from now, in ms
-- Returns 1, or 0 when the receipt holds no lease (changing nothing).
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[2], now_ms() + tonumber(ARGV[2]), ARGV[1])
return 1
