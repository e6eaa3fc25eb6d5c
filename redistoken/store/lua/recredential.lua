-- Record a new credential fingerprint on one live session of a user (its
-- account changed through that session, which stays open).
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the user id
-- ARGV[2]  the session's field (its id in binary, 9 bytes: layout 2)
-- ARGV[3]  the new credential (0 to 8 bytes, opaque)
--
-- Uses common.lua (prepended).
--
-- Returns 1 when the session is the user's and was updated, 0 otherwise
-- (not theirs, dead, of layout 1, or a value that would outgrow 64 bytes:
-- a session issued without a fingerprint keeps none, and is not refused
-- for it).
local key, uid, field, credential = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local value = redis.call('HGET', key, field)
if not value then return 0 end
local s = parse2(value)
if redis.call('HGET', key, string.char(s.slot)) ~= uid or s.deadline <= now_ms() then
    return 0
end
local old = s.mark % 16
local mark = s.mark - old + #credential
local renewed = string.char(mark) .. string.sub(s.head, 2) .. string.sub(value, #s.head + 1, #s.head + 14)
    .. credential .. string.sub(s.body, old + 1)
if #renewed > VALUE_MAX then return 0 end
redis.call('HSET', key, field, renewed)
return 1
