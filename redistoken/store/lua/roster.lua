-- List the live sessions of one user hash compactly, for `redistoken
-- reconcile`: who each belongs to and the credential it was issued for.
-- Read-only, like census.lua: expired sessions are neither listed nor pruned.
--
-- KEYS[1]  a user hash  {prefix}{tag}
-- ARGV[1]  idle timeout (ms)
-- ARGV[2]  absolute lifetime (ms)
--
-- Uses common.lua (prepended).
--
-- Returns {session field, user id, credential, ...}, three items per live
-- session (the credential is '' for a session issued without one).
local now, idle, lifetime = now_ms(), tonumber(ARGV[1]), tonumber(ARGV[2])
local listed = {}
for _, s in ipairs(all_sessions(KEYS[1])) do
    if ends_at(s, idle, lifetime) > now then
        table.insert(listed, s.field)
        table.insert(listed, s.uid)
        table.insert(listed, credential_of(s))
    end
end
return listed
