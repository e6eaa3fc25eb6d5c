-- Count the live sessions and the distinct users in one user hash, for
-- `redistoken stats`. Read-only: expired sessions are not counted, and not
-- pruned either (the other scripts do that when the user comes back).
--
-- KEYS[1]  a user hash  {prefix}{tag}
-- ARGV[1]  idle timeout (ms)
-- ARGV[2]  absolute lifetime (ms)
--
-- Uses common.lua (prepended).
--
-- Returns {live sessions, distinct user ids among them}.
local now, idle, lifetime = now_ms(), tonumber(ARGV[1]), tonumber(ARGV[2])
local sessions, users, seen = 0, 0, {}
for _, s in ipairs(all_sessions(KEYS[1])) do
    if ends_at(s, idle, lifetime) > now then
        sessions = sessions + 1
        if not seen[s.uid] then
            seen[s.uid] = true
            users = users + 1
        end
    end
end
return {sessions, users}
