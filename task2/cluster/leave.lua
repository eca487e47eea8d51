-- Run by claims.ts.
-- Releases a node's name and appends the leave to the cluster's log, in one
-- step; does nothing if the name is no longer the node's.
--
-- KEYS[1] incarnation   KEYS[2] names (hash: name -> node id)
-- KEYS[3] sequence number   KEYS[4] log (stream)   KEYS[5] the node's names
-- ARGV[1] the node's incarnation   ARGV[2] node id   ARGV[3] name
-- ARGV[4] approximate length the log is trimmed to
--
-- Returns 1 if the name was released, else 0.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], ARGV[3]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('SREM', KEYS[5], ARGV[3])
local seq = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*',
  's', seq, 'i', ARGV[1], 'k', 'leave', 'n', ARGV[3], 'o', ARGV[2])
return 1
