-- Validate one session and slide its expiry: the whole per-request cost.
--
-- KEYS[1]  the user's hash  {prefix}{tag}; see lua/common.lua for the layouts
-- ARGV[1]  the session id in binary (9 bytes: layout 2)
-- ARGV[2]  the session id as text (12 characters: layout 1)
-- ARGV[3]  the token's candidate verifiers: 16 bytes under each signing
--          key (current first), concatenated; for a format-1 token its one
--          unkeyed verifier
-- ARGV[4]  the unkeyed verifier in base64 (22 characters), as layout 1
--          stored it ('' for a format-2 token: layout 1 predates it)
-- ARGV[5]  idle timeout (ms)
-- ARGV[6]  renew interval (ms): renew only when the last renewal is at least
--          this old, so a busy session is not rewritten (and replicated) on
--          every request; 0 renews every time
-- ARGV[7]  absolute lifetime (ms)
--
-- Uses common.lua (prepended).
--
-- Returns false when the session is unknown, expired or the verifier does
-- not match; otherwise one string:
--   <layout> <expires_at_ms> <now_ms> <#uid> <#value> <#meta> LF
--   <user id> <value> <meta> <user agent>
-- One bulk string rather than an array: redis-py parses it measurably
-- faster, and this is the hot path.
--
-- Time is Redis's clock. A dead session (common.lua's ends_at) is deleted
-- here. A session that is gone stays gone: the renewal writes only after
-- HMGET found the field, inside this atomic script, so a renewal racing a
-- logout can never bring it back. A layout-1 session is rewritten as
-- layout 2 the first time it is used (its user agent is not carried over,
-- and it has no device label). One HMGET reads whatever either layout needs.
-- A full Redis (maxmemory, noeviction) refuses the renewal's first write:
-- the session is then answered as it is and renews on a later request
-- (try_write), so a full Redis still serves every live session.
local key, sid = KEYS[1], ARGV[1]
local got = redis.call('HMGET', key, sid, sid .. 'm', sid .. 'a', '\0', ARGV[2], 'm:' .. ARGV[2])
local s, uid
if got[1] then
    s = parse2(got[1])
    if not is_verifier(s.verifier, ARGV[3]) then return false end
    s.field, s.meta = sid, got[2]
    uid = got[4]
    if s.slot ~= 0 then uid = redis.call('HGET', key, string.char(s.slot)) end
    if not uid then return false end
elseif got[5] then
    s = parse1(got[5])
    if ARGV[4] == '' or s.verifier ~= ARGV[4] then return false end
    s.field, uid = ARGV[2], s.uid
else
    return false
end
local now, idle, lifetime = now_ms(), tonumber(ARGV[5]), tonumber(ARGV[7])
if ends_at(s, idle, lifetime) <= now then
    drop(key, s)
    return false
end

local value, meta, agent = got[1], got[2] or '', got[3] or ''
if (s.layout == 1 or (now > s.last and now - s.last >= tonumber(ARGV[6])))
    and try_write('HSET', key, s.field, got[1] or got[5]) then  -- first write, a no-op: refused only when full
    local deadline = math.min(now + idle, s.created + lifetime)
    if s.layout == 1 then
        local device, ip = string.match(got[6] or '', '^([^\t]*)\t?([^\t]*)')
        local kind, packed = 0, ''
        local a, b, c, d = string.match(ip, '^(%d+)%.(%d+)%.(%d+)%.(%d+)$')
        if a and tonumber(a) < 256 and tonumber(b) < 256 and tonumber(c) < 256 and tonumber(d) < 256 then
            kind, packed = 1, string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
        elseif ip ~= '' then
            ip = string.sub(ip, 1, 45)
            kind, packed = 3, string.char(#ip) .. ip
        end
        local rest = packed .. clip_bytes(device, math.min(32, VALUE_MAX - #packed - 1)) .. '\0'
        local _, slots = all_sessions(key)
        drop(key, s)
        s = {layout = 2, field = sid, last = s.last, created = s.created}
        value, meta = put2(key, sid, slot_for(key, slots, uid, slots), 16 * kind, ARGV[3],
                           s.created, now, deadline, '', rest, '')
        agent = ''
    else
        value = s.head .. times(s.created, now, deadline) .. s.body
        redis.call('HSET', key, sid, value)
    end
    s.last, s.deadline = now, deadline
    redis.call('PEXPIREAT', key, deadline, 'GT')
end
return string.format('%d %d %d %d %d %d\n', s.layout, ends_at(s, idle, lifetime), now, #uid, #value, #meta)
    .. uid .. value .. meta .. agent
