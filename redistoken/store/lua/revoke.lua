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
-- ARGV[3]  a session id ('' when unused)
-- ARGV[4]  a verifier (for "token"; '' otherwise)
--
-- Uses common.lua (prepended).
--
-- Returns {session id, user id, ...} for the sessions deleted (empty when
-- none matched), so that each revocation can be signalled and logged.
local mode, target = ARGV[2], ARGV[3]
local fields
if mode == 'session' or mode == 'token' then
    fields = {target, redis.call('HGET', KEYS[1], target)}
else
    fields = redis.call('HGETALL', KEYS[1])
end
local revoked = {}
for i = 1, #fields, 2 do
    local sid, value = fields[i], fields[i + 1]
    if value and not is_meta(sid) and (mode ~= 'others' or sid ~= target) then
        local _, _, _, uid = parse(value)
        local matches
        if mode == 'token' then
            matches = verifier_of(value) == ARGV[4]
        else
            matches = mode == 'hash' or uid == ARGV[1]
        end
        if matches then
            drop(KEYS[1], sid)
            table.insert(revoked, sid)
            table.insert(revoked, uid)
        end
    end
end
return revoked
