-- Revoke sessions in one user's hash, in one atomic step.
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the user id ('' for "token" and "hash"; several users may share
--          a hash tag)
-- ARGV[2]  what to revoke, named by its scope:
--            "session"  the session ARGV[3], if it is the user's
--            "token"    the session ARGV[3], if its verifier is ARGV[4]
--            "others"   every session of the user except ARGV[3]
--            "user"     every session of the user
--            "hash"     every session in the hash, whoever's (revoke --all)
-- ARGV[3]  a session id as text (12 characters; '' when unused)
-- ARGV[4]  for "token", its candidate verifiers (16 bytes per signing key,
--          concatenated, as for authenticate.lua); '' otherwise
-- ARGV[5]  the session id ARGV[3] in binary (9 bytes; '' when unused)
-- ARGV[6]  the unkeyed verifier in base64, as layout 1 stored it ('' for none)
--
-- Uses common.lua (prepended).
--
-- Returns {session field, user id, ...} for the sessions deleted (empty
-- when none matched), so that each revocation can be signalled and logged.
local key, mode, uid = KEYS[1], ARGV[2], ARGV[1]
local sessions = all_sessions(key)
local revoked = {}
for _, s in ipairs(sessions) do
    local named = s.field == ARGV[3] or s.field == ARGV[5]
    local matches
    if mode == 'session' then
        matches = named and s.uid == uid
    elseif mode == 'token' then
        matches = named and ((s.layout == 2 and is_verifier(s.verifier, ARGV[4]))
            or (s.layout == 1 and ARGV[6] ~= '' and s.verifier == ARGV[6]))
    elseif mode == 'others' then
        matches = not named and s.uid == uid
    else
        matches = mode == 'hash' or s.uid == uid
    end
    if matches then
        drop(key, s)
        table.insert(revoked, s.field)
        table.insert(revoked, s.uid)
    end
end
if #sessions > 0 then tidy(key, #sessions - #revoked / 2) end
return revoked
