-- Revoke sessions of one user in one atomic step.
--
-- KEYS[1]  the user's index (zset)  {prefix}{tag}:i
-- ARGV[1]  the user id, as stored in the sessions' metadata ('' for "token")
-- ARGV[2]  what to revoke:
--            "one"    the session ARGV[3]
--            "token"  the session ARGV[3] if its verifier is ARGV[4]
--            "others" every session except ARGV[3]
--            "all"    every session
-- ARGV[3]  a session id ('' when unused)
-- ARGV[4]  a verifier (for "token"; '' otherwise)
--
-- Returns {session id, user id, session id, user id, ...} for the sessions
-- deleted (empty when none matched). For
-- "one" the session must belong to the user, so an id of someone else's
-- session deletes nothing; "token" needs the token itself instead.
-- Session keys are reached through the index and share its hash tag (one
-- Cluster slot).
local base = string.sub(KEYS[1], 1, -2) .. 's:'
local mode, target = ARGV[2], ARGV[3]
local candidates
if mode == 'one' or mode == 'token' then
    candidates = {target}
else
    candidates = redis.call('ZRANGE', KEYS[1], 0, -1)
end
local revoked = {}
for _, sid in ipairs(candidates) do
    if mode ~= 'others' or sid ~= target then
        local value = redis.call('GET', base .. sid)
        if not value then
            redis.call('ZREM', KEYS[1], sid)
        elseif (mode == 'token' and string.sub(value, 1, 22) == ARGV[4])
            or (mode ~= 'token' and cjson.decode(string.sub(value, 66)).u == ARGV[1]) then
            redis.call('DEL', base .. sid)
            redis.call('ZREM', KEYS[1], sid)
            table.insert(revoked, sid)
            table.insert(revoked, cjson.decode(string.sub(value, 66)).u)
        end
    end
end
return revoked
