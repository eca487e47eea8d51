-- Renews this server's lease, and returns the items in flight of servers
-- whose leases ran out to the head of the queue (they died between taking
-- an item and delivering it), in the order each took them, as `release.lua`
-- does for a server that stops; and ends the leases their Sessions held
-- (they end with their server: `lapse.lua`, run next, gives them back).
-- KEYS[1]: the servers' leases (a sorted set: server id -> expiry, in ms of
--          Redis's clock)
-- KEYS[2]: the items
-- KEYS[3]: the flag that says a put waits for room
-- KEYS[4]: the leases' deadlines (a sorted set: receipt -> end)
-- ARGV[1]: this server's id
-- ARGV[2]: the lease's length in ms
-- ARGV[3]: the prefix of the in-flight lists (the list of server ID is
--          ARGV[3] .. ID, in the same hash slot as the other keys)
-- ARGV[4]: '1' when puts wait for room on this server (raises the flag)
-- ARGV[5], ARGV[6], ARGV[7]: the prefixes of the hashes of taken items, of
--          the epochs and of the sets of Sessions' receipts, as ARGV[3]
-- Returns the number of items returned to the queue.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[4] == '1' then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
end
local returned = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  local taken = ARGV[5] .. id
  local flat = redis.call('HGETALL', taken)
  local entries = {}
  for i = 1, #flat, 2 do
    entries[#entries + 1] = { tonumber(flat[i]), flat[i + 1] }
  end
  table.sort(entries, function(a, b) return a[1] < b[1] end)
  for i = #entries, 1, -1 do
    redis.call('LPUSH', KEYS[2], entries[i][2])
  end
  returned = returned + #entries
  while redis.call('LMOVE', ARGV[3] .. id, KEYS[2], 'RIGHT', 'LEFT') do
    returned = returned + 1
  end
  local owned = ARGV[7] .. id
  for _, receipt in ipairs(redis.call('SMEMBERS', owned)) do
    redis.call('ZADD', KEYS[4], 'XX', 0, receipt)
  end
  redis.call('DEL', taken, ARGV[6] .. id, owned)
  redis.call('ZREM', KEYS[1], id)
end
return returned
