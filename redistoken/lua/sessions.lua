-- List one user's live sessions, pruning the index as it goes.
--
-- KEYS[1]  the user's index (zset)  {prefix}{tag}:i
-- ARGV[1]  the user id, as stored in the sessions' metadata
--
-- Returns {now_ms, session id, value, expires_at_ms, session id, value, ...}
-- for the sessions of that user (other users may share the hash tag).
-- Index members whose session has expired or vanished are removed here, so
-- a listing never shows a dead session and the index cannot grow stale.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local base = string.sub(KEYS[1], 1, -2) .. 's:'
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local result = {now}
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
    local sid = members[i]
    local value = redis.call('GET', base .. sid)
    if not value then
        redis.call('ZREM', KEYS[1], sid)
    elseif cjson.decode(string.sub(value, 66)).u == ARGV[1] then
        table.insert(result, sid)
        table.insert(result, value)
        table.insert(result, now + redis.call('PTTL', base .. sid))
    end
end
return result
