-- Helpers shared by the scripts that read the items, put in front of each of
-- them (no keys or arguments of its own). An entry of the items list is
-- either an item as it was put (never leased), or an item that came back
-- from a lease, written '\255ORDER:COUNT:ITEM': ORDER is the number of its
-- first lease (its place among the items that came back, which is put order
-- for items leased from the head), COUNT how many leasing pops handed it out.
-- No UTF-8 text holds the byte 255, so the two forms are never confused.

-- The order, delivery count and item of an entry: 0, 0 and the entry itself
-- for an item never leased.
local function parse_entry(entry)
  if string.byte(entry, 1) ~= 255 then
    return 0, 0, entry
  end
  local order, count, rest = string.match(entry, '^\255(%d+):(%d+):()')
  return tonumber(order), tonumber(count), string.sub(entry, rest)
end

-- Now in milliseconds of Redis's clock.
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- Puts entries that came back from a lease at the head of the list `items`:
-- ahead of every item never leased, and among the entries already back by
-- their order. Those are taken off the head (a hundred at a time) and put
-- back merged, unless every new entry goes before them.
local function give_back(items, entries)
  local all = {}
  local last = 0
  for _, entry in ipairs(entries) do
    local order = parse_entry(entry)
    all[#all + 1] = { order, entry }
    if order > last then last = order end
  end
  local head = redis.call('LINDEX', items, 0)
  local first = head and parse_entry(head) or 0
  if first ~= 0 and first < last then
    repeat
      local some = redis.call('LRANGE', items, 0, 99)
      local back = 0
      for _, entry in ipairs(some) do
        local order = parse_entry(entry)
        if order == 0 then break end
        back = back + 1
        all[#all + 1] = { order, entry }
      end
      if back > 0 then redis.call('LPOP', items, back) end
    until back < 100
  end
  table.sort(all, function(a, b) return a[1] < b[1] end)
  for i = #all, 1, -1 do
    redis.call('LPUSH', items, all[i][2])
  end
end

