-- Run by resync.ts.
-- Reads the whole roster at one point of the log, for a node that (re)syncs.
--
-- KEYS[1] incarnation   KEYS[2] names (hash: name -> node id)
-- KEYS[3] sequence number   KEYS[4] log (stream)   ARGV: none
--
-- Returns {incarnation or '', seq, id of the last log entry or '0-0',
-- {name, node id, name, node id, ...}}.
local last = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
local id = '0-0'
if last[1] then id = last[1][1] end
return {
  redis.call('GET', KEYS[1]) or '',
  tonumber(redis.call('GET', KEYS[3]) or '0'),
  id,
  redis.call('HGETALL', KEYS[2]),
}
