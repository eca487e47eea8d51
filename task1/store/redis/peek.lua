-- Reads the head item, without the lease details of an entry that came back
-- from a lease (`entries.lua`).
-- KEYS[1]: the items
-- Returns the item, or nil when there is none.
local entry = redis.call('LINDEX', KEYS[1], 0)
if not entry then
  return false
end
local _, _, item = parse_entry(entry)
return item
