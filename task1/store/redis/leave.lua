-- A server that stops returns its in-flight item, if any, to the head of the
-- queue and drops its lease.
-- KEYS[1]: the servers' leases (a sorted set)
-- KEYS[2]: the items
-- KEYS[3]: this server's in-flight list
-- ARGV[1]: this server's id
-- Returns the number of items returned to the queue.
local returned = 0
while redis.call('LMOVE', KEYS[3], KEYS[2], 'RIGHT', 'LEFT') do
  returned = returned + 1
end
redis.call('ZREM', KEYS[1], ARGV[1])
return returned
