-- Record a new credential fingerprint on one live session of a user (its
-- account changed through that session, which stays open).
--
-- KEYS[1]  the user's hash  {prefix}{tag}
-- ARGV[1]  the user id
-- ARGV[2]  the session id
-- ARGV[3]  the new credential ('' for none)
--
-- Uses common.lua (prepended).
--
-- Returns 1 when the session is the user's and was updated, 0 otherwise.
local value = redis.call('HGET', KEYS[1], ARGV[2])
if not value then
    return 0
end
local _, _, _, uid = parse(value)
if uid ~= ARGV[1] then
    return 0
end
local meta = redis.call('HGET', KEYS[1], meta_field(ARGV[2])) or ''
local device, ip, agent = string.match(meta, '^([^\t]*)\t?([^\t]*)\t?([^\t]*)')
meta = table.concat({device or '', ip or '', agent or ''}, '\t')
if ARGV[3] ~= '' then
    meta = meta .. '\t' .. ARGV[3]
end
redis.call('HSET', KEYS[1], meta_field(ARGV[2]), meta)
return 1
