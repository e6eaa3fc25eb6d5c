-- Count the live sessions and the distinct users in one user hash, for
-- `redistoken stats`. Read-only: expired sessions are not counted, and not
-- pruned either (the other scripts do that when the user comes back).
--
-- KEYS[1]  a user hash  {prefix}{tag}
-- ARGV[1]  idle timeout (ms)
--
-- Returns {live sessions, distinct user ids among them}.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local idle = tonumber(ARGV[1])
local sessions, users, seen = 0, 0, {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) ~= 'm:' then
        local last, absolute, uid = string.match(fields[i + 1], '^[^|]*|(%w+)|(%w+)|%w+|(.*)$')
        if math.min(tonumber(last, 36) + idle, tonumber(absolute, 36)) > now then
            sessions = sessions + 1
            if not seen[uid] then
                seen[uid] = true
                users = users + 1
            end
        end
    end
end
return {sessions, users}
