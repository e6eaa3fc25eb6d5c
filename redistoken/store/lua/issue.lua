-- Store a new session in its user's hash, enforcing one session per device
-- name and the per-user cap, atomically: two racing logins can never leave
-- more sessions than the cap. Expired sessions are pruned on the way.
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the new session id in binary (9 bytes)
-- ARGV[2]  the verifier of the new token (16 bytes)
-- ARGV[3]  16 * ip kind + credential length (see common.lua)
-- ARGV[4]  the credential fingerprint (0 to 8 bytes, opaque)
-- ARGV[5]  the rest of the value: ip, device NUL label (at most 64 bytes)
-- ARGV[6]  the raw user agent to keep ('' for none)
-- ARGV[7]  idle timeout (ms)
-- ARGV[8]  absolute lifetime (ms)
-- ARGV[9]  the user id (several users may share a hash tag)
-- ARGV[10] the cap on live sessions per user, 0 for none
-- ARGV[11] device name ('' for none): an older session of this user with
--          the same device name is replaced
--
-- Uses common.lua (prepended).
--
-- Returns {now_ms, expires_at_ms, replaced ids..., '', evicted ids...}
-- (ids as stored: 9 bytes, or 12 characters for layout 1).
--
-- The new session's HSET is the script's first write: on a full Redis
-- (maxmemory, noeviction) Redis refuses it with OOM before anything has
-- changed, whereas any earlier write (even an HDEL) would let the script
-- grow the store past maxmemory. So the sessions to drop are collected
-- first and dropped after it.
local key, now = KEYS[1], now_ms()
local idle, lifetime, uid = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local cap, device = tonumber(ARGV[10]), ARGV[11]

local sessions, slots = all_sessions(key)
local mine, replaced, evicted, used, doomed = {}, {}, {}, {}, {}
for _, s in ipairs(sessions) do
    if s.field == ARGV[1] then
        -- This very call's first run (redis-py retries after a timeout or a
        -- lost reply): rewritten below, never replaced, evicted or pruned.
    elseif ends_at(s, idle, lifetime) <= now then
        table.insert(doomed, s)
    elseif s.uid == uid then
        if device ~= '' and device_of(s) == device then
            table.insert(doomed, s)
            table.insert(replaced, s.field)
        else
            table.insert(mine, {s.field, s.last, s})
        end
    elseif s.layout == 2 then
        used[s.slot] = true
    end
end
if cap > 0 and #mine >= cap then
    table.sort(mine, function(a, b) return a[2] < b[2] end)
    for i = 1, #mine - cap + 1 do
        table.insert(doomed, mine[i][3])
        table.insert(evicted, mine[i][1])
    end
end

local expires_at = math.min(now + idle, now + lifetime)
local slot = slot_for(key, slots, uid, used)
put2(key, ARGV[1], slot, tonumber(ARGV[3]), ARGV[2], now, now, expires_at, ARGV[4], ARGV[5], ARGV[6])
for _, s in ipairs(doomed) do drop(key, s) end

local result = {now, expires_at}
for _, sid in ipairs(replaced) do table.insert(result, sid) end
table.insert(result, '')
for _, sid in ipairs(evicted) do table.insert(result, sid) end
return result
