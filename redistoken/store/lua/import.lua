-- Store a session for a token imported from DRF's authtoken table, unless
-- a session with this id is already there (imports are idempotent). The
-- session then behaves as any other: sliding expiry from now, revocable.
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the session id (derived from the DRF key, so a re-run finds it)
-- ARGV[2]  the verifier of the DRF key (22 characters)
-- ARGV[3]  when the DRF token was created (ms), kept as the session's creation
-- ARGV[4]  idle timeout (ms)
-- ARGV[5]  absolute lifetime (ms), counted from now
-- ARGV[6]  the user id
--
-- Uses common.lua (prepended).
--
-- Returns 1 when the session was created, 0 when it already existed.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
    return 0
end
local now = now_ms()

local absolute = now + tonumber(ARGV[5])
local created = math.min(tonumber(ARGV[3]), now)
local value = pack(ARGV[2], now, absolute, base36(created), ARGV[6])
put(KEYS[1], ARGV[1], value, '', ends_at(now, absolute, tonumber(ARGV[4])))
return 1
