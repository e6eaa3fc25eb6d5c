-- Count the live sessions and the distinct users in one user hash, for
-- `redistoken stats`. Read-only: expired sessions are not counted, and not
-- pruned either (the other scripts do that when the user comes back).
--
-- KEYS[1]  a user hash  {prefix}{tag}
-- ARGV[1]  idle timeout (ms)
--
-- Uses common.lua (prepended).
--
-- Returns {live sessions, distinct user ids among them}.
local now, idle = now_ms(), tonumber(ARGV[1])
local sessions, users, seen = 0, 0, {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
    if not is_meta(fields[i]) then
        local _, _, _, uid = parse(fields[i + 1])
        if expiry(fields[i + 1], idle) > now then
            sessions = sessions + 1
            if not seen[uid] then
                seen[uid] = true
                users = users + 1
            end
        end
    end
end
return {sessions, users}
