-- List one user's live sessions, pruning expired ones as it goes.
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the user id (other users may share the hash tag)
-- ARGV[2]  idle timeout (ms)
--
-- Uses common.lua (prepended).
--
-- Returns {now_ms, session id, value, metadata, expires_at_ms, ...}.
local now, idle = now_ms(), tonumber(ARGV[2])
local result = {now}
for _, session in ipairs(all_sessions(KEYS[1])) do
    local sid, value, meta = session[1], session[2], session[3]
    local expires_at = expiry(value, idle)
    local _, _, _, uid = parse(value)
    if expires_at <= now then
        drop(KEYS[1], sid)
    elseif uid == ARGV[1] then
        table.insert(result, sid)
        table.insert(result, value)
        table.insert(result, meta)
        table.insert(result, expires_at)
    end
end
return result
