-- Takes the head of a list into this server's hash of taken items, where it
-- stays until the server has the item in hand and delivers it
-- (`deliver.lua`), or goes back to the head of the queue (`untake.lua`,
-- `release.lua`, or `lease.lua` once the server's lease ran out).
-- KEYS[1]: the list to take from: the items, or this server's in-flight list
--          (where its blocking pop moved the item)
-- KEYS[2]: this server's taken items (a hash: take number -> item)
-- KEYS[3]: this server's epoch
-- ARGV[1]: the epoch the server knew when it sent this; if the server
--          recovered since, this take was sent on a connection it gave up,
--          and runs nothing
-- ARGV[2]: the take's number, new for each take of this server
-- Returns the item (the entry as `entries.lua` reads it; the hash keeps the
-- entry), or nil when the list is empty.
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return redis.error_reply('STALE this server recovered since; try again')
end
local item = redis.call('LPOP', KEYS[1])
if not item then
  return false
end
redis.call('HSET', KEYS[2], ARGV[2], item)
local _, _, plain = parse_entry(item)
return plain
