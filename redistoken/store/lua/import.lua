-- Store a session for a token imported from DRF's authtoken table, unless
-- a session with this id is already there (imports are idempotent). The
-- session then behaves as any other: sliding expiry from now, revocable.
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the session id in binary (derived from the DRF key, so a re-run finds it)
-- ARGV[2]  the same id as text (a layout-1 import of it counts too)
-- ARGV[3]  the verifier of the DRF key (16 bytes)
-- ARGV[4]  idle timeout (ms)
-- ARGV[5]  absolute lifetime (ms)
-- ARGV[6]  the user id
--
-- The session counts as created now: ABSOLUTE_LIFETIME runs from the import
-- (counted from the DRF row's creation, an old key would be dead at once).
--
-- Uses common.lua (prepended).
--
-- Returns 1 when the session was created, 0 when it already existed.
local key = KEYS[1]
if redis.call('HEXISTS', key, ARGV[1]) == 1 or redis.call('HEXISTS', key, ARGV[2]) == 1 then
    return 0
end
local now = now_ms()
local deadline = math.min(now + tonumber(ARGV[4]), now + tonumber(ARGV[5]))
local sessions, slots = all_sessions(key)
local used = {}
for _, s in ipairs(sessions) do
    if s.layout == 2 then used[s.slot] = true end
end
put2(key, ARGV[1], slot_for(key, slots, ARGV[6], used), 0, ARGV[3], now, now, deadline, '', '', '')
return 1
