-- Ends leases without an Ack (a Release, or the end of the Session that
-- owned them): their items go back to the head, by order (`entries.lua`).
-- KEYS[1]: the items
-- KEYS[2]: the leased items (a hash: receipt -> entry)
-- KEYS[3]: the leases' deadlines (a sorted set: receipt -> end)
-- KEYS[4]: the receipts of the leases this server's Sessions hold (a set)
-- ARGV[1], ARGV[2], ...: the receipts; those that hold no lease are skipped
-- Returns the number of items given back.
local entries = {}
for _, receipt in ipairs(ARGV) do
  redis.call('SREM', KEYS[4], receipt)
  local entry = redis.call('HGET', KEYS[2], receipt)
  if entry then
    redis.call('HDEL', KEYS[2], receipt)
    redis.call('ZREM', KEYS[3], receipt)
    entries[#entries + 1] = entry
  end
end
if #entries > 0 then
  give_back(KEYS[1], entries)
end
return #entries
