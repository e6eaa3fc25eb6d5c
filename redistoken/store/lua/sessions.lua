-- List one user's live sessions, pruning expired ones as it goes.
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the user id (other users may share the hash tag)
-- ARGV[2]  idle timeout (ms)
-- ARGV[3]  absolute lifetime (ms)
--
-- Uses common.lua (prepended).
--
-- Returns {now_ms, layout, field, value, meta, user agent, expires_at_ms, ...}
-- (meta and user agent '' when none).
local key, now, idle, lifetime = KEYS[1], now_ms(), tonumber(ARGV[2]), tonumber(ARGV[3])
local result, remaining = {now}, 0
local sessions = all_sessions(key)
for _, s in ipairs(sessions) do
    local expires_at = ends_at(s, idle, lifetime)
    if expires_at <= now then
        drop(key, s)
    else
        remaining = remaining + 1
        if s.uid == ARGV[1] then
            for _, item in ipairs({s.layout, s.field, s.value, s.meta or '', s.agent or '', expires_at}) do
                table.insert(result, item)
            end
        end
    end
end
if #sessions > 0 then tidy(key, remaining) end
return result
