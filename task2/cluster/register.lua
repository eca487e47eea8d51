-- Run by lease.ts.
-- Registers a node in the cluster with a lease on Redis's clock, creating the
-- cluster's incarnation (a random id that tells nodes whether Redis kept its
-- data) if there is none.
--
-- KEYS[1] incarnation (string)   KEYS[2] nodes (zset: node id -> lease end, ms)
-- KEYS[3] last heartbeat of any node (string, Redis time in ms)
-- ARGV[1] node id   ARGV[2] lease length in ms   ARGV[3] incarnation to create
--
-- Returns the cluster's incarnation.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[3], 'NX')
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('SET', KEYS[3], now)
return redis.call('GET', KEYS[1])
