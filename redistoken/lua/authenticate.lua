-- Validate one session and slide its expiry: the whole per-request cost.
--
-- KEYS[1]  the user's hash  {prefix}{tag}; see store.py for the layout
-- ARGV[1]  the session id
-- ARGV[2]  the token's verifier (the only stored form of a token)
-- ARGV[3]  idle timeout (ms)
-- ARGV[4]  renew interval (ms): renew only when the last renewal is at least
--          this old, so a busy session is not rewritten (and replicated) on
--          every request; 0 renews every time
--
-- Uses common.lua (prepended).
--
-- Returns false when the session is unknown, expired or the verifier does
-- not match; otherwise {session value, metadata, expires_at_ms, now_ms}.
--
-- Time is Redis's clock. A session past min(last used + idle, absolute) is
-- dead and deleted here. A session that is gone stays gone: the renewal
-- writes only after HGET found the field, inside this atomic script, so a
-- renewal racing a logout can never bring it back. Verifiers are compared
-- with Lua's string equality, which compares interned strings by reference.
local sid = ARGV[1]
local value = redis.call('HGET', KEYS[1], sid)
if not value or string.sub(value, 1, 22) ~= ARGV[2] then
    return false
end
local last, absolute, created, uid = parse(value)
local now, idle = now_ms(), tonumber(ARGV[3])
if math.min(last + idle, absolute) <= now then
    redis.call('HDEL', KEYS[1], sid, 'm:' .. sid)
    return false
end
if now > last and now - last >= tonumber(ARGV[4]) then
    last = now
    value = table.concat({ARGV[2], base36(now), base36(absolute), created, uid}, '|')
    redis.call('HSET', KEYS[1], sid, value)
    redis.call('PEXPIREAT', KEYS[1], math.min(now + idle, absolute), 'GT')
end
return {value, redis.call('HGET', KEYS[1], 'm:' .. sid) or '', math.min(last + idle, absolute), now}
