-- Run by lease.ts.
-- Renews a node's lease on Redis's clock and lists the nodes whose leases have
-- run out. When no node renewed for longer than ARGV[4] ms, Redis itself (or
-- the network to it) was away: that time is added to every lease instead of
-- counting against the nodes.
--
-- KEYS[1] incarnation   KEYS[2] nodes (zset: node id -> lease end, ms)
-- KEYS[3] last heartbeat of any node
-- ARGV[1] the node's incarnation   ARGV[2] node id   ARGV[3] lease length, ms
-- ARGV[4] the longest pause between heartbeats that is not an outage, ms
--
-- Returns {'reset'} when the incarnation differs (Redis lost its data),
-- {'fenced'} when the node's lease is gone or over, else {'ok', expired ids...}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'reset'} end
local last = tonumber(redis.call('GET', KEYS[3]) or now)
local outage = now - last
if outage > tonumber(ARGV[4]) then
  local leases = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #leases, 2 do
    redis.call('ZADD', KEYS[2], tonumber(leases[i + 1]) + outage, leases[i])
  end
end
local lease = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not lease or tonumber(lease) < now then return {'fenced'} end
redis.call('SET', KEYS[3], now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
return {'ok', unpack(expired)}
