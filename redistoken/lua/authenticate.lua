-- Validate one session and slide its expiry: the whole per-request cost.
--
-- KEYS[1]  the session key          {prefix}{tag}:s:{session id}
-- KEYS[2]  the user's index (zset)  {prefix}{tag}:i, member = session id,
--                                   score = the session's expiry (ms)
-- ARGV[1]  the token's verifier (the only stored form of a token)
-- ARGV[2]  the session id
-- ARGV[3]  idle timeout (ms)
-- ARGV[4]  renew interval (ms): renew only when the expiry would move by at
--          least this much, so that a busy session is not rewritten (and
--          replicated) on every request; 0 renews every time
--
-- Returns false when the session is unknown or the verifier does not match
-- (nothing is written then); otherwise {value, expires_at_ms, now_ms}.
-- The session value is
--   verifier(22) "|" absolute_ms(13) "|" created_ms(13) "|" last_used_ms(13) "|" json
--
-- A session that is gone stays gone: PEXPIREAT and SETRANGE run only after
-- GET found the key, inside this atomic script, so a renewal racing a
-- logout can never recreate it. Verifiers are compared with Lua's string
-- equality, which compares interned strings by reference (constant time).
local value = redis.call('GET', KEYS[1])
if not value or string.sub(value, 1, 22) ~= ARGV[1] then
    return false
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local expires_at = now + redis.call('PTTL', KEYS[1])
local target = math.min(now + tonumber(ARGV[3]), tonumber(string.sub(value, 24, 36)))
if target > expires_at and target - expires_at >= tonumber(ARGV[4]) then
    redis.call('PEXPIREAT', KEYS[1], target)
    redis.call('SETRANGE', KEYS[1], 51, string.format('%013d', now))
    redis.call('ZADD', KEYS[2], 'XX', target, ARGV[2])
    redis.call('PEXPIREAT', KEYS[2], target, 'GT')
    expires_at = target
    value = string.sub(value, 1, 51) .. string.format('%013d', now) .. string.sub(value, 65)
end
return {value, expires_at, now}
