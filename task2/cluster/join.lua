-- Run by claims.ts.
-- Claims a name for a node and appends the join to the cluster's log, in one
-- step: two nodes racing for one name cannot both win.
--
-- KEYS[1] incarnation   KEYS[2] nodes (zset: node id -> lease end, ms)
-- KEYS[3] names (hash: name -> node id)   KEYS[4] sequence number (counter)
-- KEYS[5] log (stream)   KEYS[6] the node's names (set)
-- ARGV[1] the node's incarnation   ARGV[2] node id   ARGV[3] name
-- ARGV[4] approximate length the log is trimmed to
--
-- Returns {'ok', seq}, {'taken'}, {'fenced'} (the node's lease is gone or
-- over) or {'reset'} (the incarnation differs: Redis lost its data).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'reset'} end
local lease = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not lease or tonumber(lease) < now then return {'fenced'} end
if redis.call('HSETNX', KEYS[3], ARGV[3], ARGV[2]) == 0 then return {'taken'} end
redis.call('SADD', KEYS[6], ARGV[3])
local seq = redis.call('INCR', KEYS[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*',
  's', seq, 'i', ARGV[1], 'k', 'join', 'n', ARGV[3], 'o', ARGV[2])
return {'ok', seq}
