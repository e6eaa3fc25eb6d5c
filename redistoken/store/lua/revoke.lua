-- Revoke sessions in one user's hash, in one atomic step.
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- KEYS[2]  this call's receipt  {prefix}{tag}:receipt:<random>: a list of
--          what the call revoked, kept 30 s, so that the same call run again
--          (redis-py retries after a timeout or a lost reply, when the first
--          run may have done the work) answers what the first run did
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
-- when none matched), so that each revocation can be signalled and logged;
-- run again with the same receipt, what the first run deleted.
local key, mode, uid = KEYS[1], ARGV[2], ARGV[1]
local receipt = redis.call('LRANGE', KEYS[2], 0, -1)
if #receipt > 0 then return receipt end
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
-- The receipt is a write that may be refused (a full Redis): the revocation
-- stands either way. Pushed in chunks (Lua's unpack has a stack limit).
if #revoked > 0 then
    local kept = true
    for i = 1, #revoked, 1000 do
        kept = kept and try_write('RPUSH', KEYS[2], unpack(revoked, i, math.min(i + 999, #revoked)))
    end
    if not (kept and try_write('PEXPIRE', KEYS[2], 30000)) then try_write('DEL', KEYS[2]) end
end
return revoked
