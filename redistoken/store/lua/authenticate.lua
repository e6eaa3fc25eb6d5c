-- Validate one session and slide its expiry: the whole per-request cost.
--
-- KEYS[1]  the user's hash  {prefix}{tag}; see redistoken/store/__init__.py for the layout
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
-- not match; otherwise one string:
--   <expires_at_ms>|<now_ms> LF <metadata> LF <session value>
-- (metadata holds only printable characters, so never a LF; the value, last,
-- may hold anything). One bulk string rather than an array: redis-py parses
-- it measurably faster (about 20 us per request), and this is the hot path.
--
-- Time is Redis's clock. A session past min(last used + idle, absolute) is
-- dead and deleted here. A session that is gone stays gone: the renewal
-- writes only after HMGET found the field, inside this atomic script, so a
-- renewal racing a logout can never bring it back. Verifiers are compared
-- with Lua's string equality, which compares interned strings by reference.
-- One HMGET reads the session and its metadata: every redis.call costs.
-- A full Redis (maxmemory, noeviction) refuses the renewal's HSET: the
-- session is answered as it is and renews on a later request (try_write),
-- so a full Redis still serves every live session.
local sid = ARGV[1]
local found = redis.call('HMGET', KEYS[1], sid, meta_field(sid))
local value, meta = found[1], found[2] or ''
if not value or verifier_of(value) ~= ARGV[2] then
    return false
end
local last, absolute, created, uid = parse(value)
local now, idle = now_ms(), tonumber(ARGV[3])
if ends_at(last, absolute, idle) <= now then
    try_write('HDEL', KEYS[1], sid, meta_field(sid))  -- dead either way
    return false
end
if now > last and now - last >= tonumber(ARGV[4]) then
    local renewed = pack(ARGV[2], now, absolute, created, uid)
    if try_write('HSET', KEYS[1], sid, renewed) then
        last, value = now, renewed
        redis.call('PEXPIREAT', KEYS[1], ends_at(now, absolute, idle), 'GT')
    end
end
return string.format('%d|%d\n', ends_at(last, absolute, idle), now) .. meta .. '\n' .. value
