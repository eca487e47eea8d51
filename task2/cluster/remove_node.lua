-- Run by lease.ts.
-- Removes a node and releases all its names, appending one leave per name to
-- the cluster's log: for a clean shutdown, for a node that re-registers, and
-- for a node whose lease ran out (then only if it is still out, on Redis's
-- clock, so two survivors reaping the same node do it once).
--
-- KEYS[1] nodes (zset: node id -> lease end, ms)
-- KEYS[2] names (hash: name -> node id)   KEYS[3] sequence number
-- KEYS[4] log (stream)   KEYS[5] the node's names (set)
-- ARGV[1] node id   ARGV[2] 'expired' (only if its lease is over) or 'any'
-- ARGV[3] approximate length the log is trimmed to
-- ARGV[4] the calling node's incarnation, written into each log entry
--
-- Returns the number of names released.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ARGV[2] == 'expired' and (not lease or tonumber(lease) >= now) then
  return 0
end
local released = 0
for _, name in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  if redis.call('HGET', KEYS[2], name) == ARGV[1] then
    redis.call('HDEL', KEYS[2], name)
    local seq = redis.call('INCR', KEYS[3])
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*',
      's', seq, 'i', ARGV[4], 'k', 'leave', 'n', name, 'o', ARGV[1])
    released = released + 1
  end
end
redis.call('DEL', KEYS[5])
redis.call('ZREM', KEYS[1], ARGV[1])
return released
