-- Store a new session in its user's hash, enforcing one session per device
-- name and the per-user cap, atomically: two racing logins can never leave
-- more sessions than the cap. Expired sessions are pruned on the way.
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the new session id
-- ARGV[2]  the verifier of the new token (22 characters)
-- ARGV[3]  the new session's metadata: device TAB ip TAB user agent [TAB credential]
-- ARGV[4]  idle timeout (ms)
-- ARGV[5]  absolute lifetime (ms)
-- ARGV[6]  the user id (several users may share a hash tag)
-- ARGV[7]  the cap on live sessions per user, 0 for none
-- ARGV[8]  device name ('' for none): an older session of this user with the
--          same device name is replaced
--
-- Uses common.lua (prepended).
--
-- Returns {now_ms, expires_at_ms, replaced ids..., '', evicted ids...}.
local now, idle = now_ms(), tonumber(ARGV[4])
local cap, device = tonumber(ARGV[7]), ARGV[8]

local mine, replaced, evicted = {}, {}, {}
for _, session in ipairs(all_sessions(KEYS[1])) do
    local sid, value, meta = session[1], session[2], session[3]
    local last, _, _, uid = parse(value)
    if expiry(value, idle) <= now then
        drop(KEYS[1], sid)
    elseif uid == ARGV[6] then
        if device ~= '' and string.match(meta, '^[^\t]*') == device then
            drop(KEYS[1], sid)
            table.insert(replaced, sid)
        else
            table.insert(mine, {sid, last})
        end
    end
end
if cap > 0 and #mine >= cap then
    table.sort(mine, function(a, b) return a[2] < b[2] end)
    for i = 1, #mine - cap + 1 do
        drop(KEYS[1], mine[i][1])
        table.insert(evicted, mine[i][1])
    end
end

local absolute = now + tonumber(ARGV[5])
local expires_at = ends_at(now, absolute, idle)
put(KEYS[1], ARGV[1], pack(ARGV[2], now, absolute, base36(now), ARGV[6]), ARGV[3], expires_at)

local result = {now, expires_at}
for _, sid in ipairs(replaced) do table.insert(result, sid) end
table.insert(result, '')
for _, sid in ipairs(evicted) do table.insert(result, sid) end
return result
