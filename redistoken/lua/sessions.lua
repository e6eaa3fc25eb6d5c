-- List one user's live sessions, pruning expired ones as it goes.
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the user id (other users may share the hash tag)
-- ARGV[2]  idle timeout (ms)
--
-- Uses common.lua (prepended).
--
-- Returns {now_ms, session id, value, metadata, expires_at_ms, ...}.
local now, idle = now_ms(), tonumber(ARGV[2])
local result = {now}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
    local sid, value = fields[i], fields[i + 1]
    if string.sub(sid, 1, 2) ~= 'm:' then
        local expires_at = expiry(value, idle)
        local _, _, _, uid = parse(value)
        if expires_at <= now then
            redis.call('HDEL', KEYS[1], sid, 'm:' .. sid)
        elseif uid == ARGV[1] then
            table.insert(result, sid)
            table.insert(result, value)
            table.insert(result, redis.call('HGET', KEYS[1], 'm:' .. sid) or '')
            table.insert(result, expires_at)
        end
    end
end
return result
