-- Leases the head of a list: the entry leaves the list (its room stays
-- counted) for the hash of leased items, with its delivery count one higher,
-- and its receipt's deadline goes in the sorted set of deadlines.
-- KEYS[1]: the list to take from: the items, or this server's in-flight list
--          (where its blocking pop moved the entry)
-- KEYS[2]: the leased items (a hash: receipt -> entry, as `entries.lua`)
-- KEYS[3]: the leases' deadlines (a sorted set: receipt -> end, in ms of
--          Redis's clock)
-- KEYS[4]: the queue's settings and counters (a hash; 'leases' numbers the
--          first lease of each item)
-- KEYS[5]: the receipts of the leases this server's Sessions hold (a set)
-- ARGV[1]: the receipt, new and unguessable
-- ARGV[2]: the lease's length in ms
-- ARGV[3]: '1' when a Session of this server takes the lease, else '0'
-- Returns the item and its delivery count, or nil when the list is empty.
local entry = redis.call('LPOP', KEYS[1])
if not entry then
  return false
end
local order, count, item = parse_entry(entry)
if order == 0 then
  order = redis.call('HINCRBY', KEYS[4], 'leases', 1)
end
count = count + 1
redis.call('HSET', KEYS[2], ARGV[1], '\255' .. order .. ':' .. count .. ':' .. item)
redis.call('ZADD', KEYS[3], now_ms() + tonumber(ARGV[2]), ARGV[1])
if ARGV[3] == '1' then
  redis.call('SADD', KEYS[5], ARGV[1])
end
return { item, count }
