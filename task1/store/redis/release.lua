-- Returns every item this server has in flight to the head of the queue, in
-- the order it took them (those its blocking pops moved out first), then
-- either starts a new epoch (a recovery: a take sent before this never runs)
-- or drops the server's lease and epoch (it stops).
-- KEYS[1]: the items
-- KEYS[2]: this server's taken items (a hash: take number -> item)
-- KEYS[3]: this server's in-flight list (moved there by its blocking pops)
-- KEYS[4]: this server's epoch
-- KEYS[5]: the servers' leases (a sorted set)
-- KEYS[6]: the queue's settings and counters (a hash)
-- ARGV[1]: this server's id
-- ARGV[2]: the new epoch, or '' when the server stops
-- ARGV[3], ARGV[4], ...: pairs of a take's number and its item, for takes
--          whose delivery may have run (its answer was lost) but whose
--          caller was gone: if the delivery ran, the item is counted and
--          returned again
-- Returns the number of items returned to the queue.
local entries = {}
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do
  entries[#entries + 1] = { tonumber(flat[i]), flat[i + 1] }
end
for i = 3, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then
    local item = ARGV[i + 1]
    entries[#entries + 1] = { tonumber(ARGV[i]), item }
    redis.call('HINCRBY', KEYS[6], 'count', 1)
    redis.call('HINCRBY', KEYS[6], 'bytes', #item)
  end
end
table.sort(entries, function(a, b) return a[1] < b[1] end)
for i = #entries, 1, -1 do
  redis.call('LPUSH', KEYS[1], entries[i][2])
end
redis.call('DEL', KEYS[2])
local returned = #entries
while redis.call('LMOVE', KEYS[3], KEYS[1], 'RIGHT', 'LEFT') do
  returned = returned + 1
end
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[5], ARGV[1])
  redis.call('DEL', KEYS[4])
else
  redis.call('SET', KEYS[4], ARGV[2])
end
return returned
