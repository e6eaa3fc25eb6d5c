-- Helpers shared by every script: the store prepends this file to each
-- script before sending it, since Redis scripts cannot import code.
--
-- A user hash holds two layouts side by side (docs/sessions.md), told
-- apart by the length of each field name:
--   layout 2 (written now)
--     1 byte    a user slot; its value is the user id, once per hash
--     9 bytes   a session (its id in binary); the value is packed, see parse2()
--     10 bytes  the session's id .. 'm': ip, device and label, when they
--               would take the value past 64 bytes
--               the session's id .. 'a': the raw user agent (STORE_USER_AGENT)
--   layout 1 (read, and rewritten as layout 2 on the next renewal)
--     12 chars  verifier|last used|absolute deadline|created|user id (base 36 ms)
--     14 chars  'm:' .. id: device TAB ip TAB user agent
--
-- A layout-2 value, in bytes:
--   1   mark: 64 * v + 16 * ip kind + credential length, where v = 1 means
--       the session's user is slot 0 and v = 2 that a slot byte follows
--   0/1 the slot
--   16  verifier
--   6   created, ms of Redis's clock
--   5   last used - created, ms
--   3   deadline - last used, whole seconds rounded up (16777215: none)
--   ..  credential, then the rest: ip (none, 4 or 16 bytes, or a length
--       byte and text), device NUL label; the rest goes to the 'm' field
--       when the value would pass 64 bytes (the listpack limit)

local VALUE_MAX, NO_BOUND = 64, 16777215

-- Milliseconds now, by Redis's clock (never the web servers').
local function now_ms()
    local clock = redis.call('TIME')
    return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end

-- The big-endian unsigned integer of n bytes of s at i.
local function int_at(s, i, n)
    local v = 0
    for k = i, i + n - 1 do
        v = v * 256 + string.byte(s, k)
    end
    return v
end

-- v as n big-endian bytes.
local function bytes(v, n)
    local out = {}
    for k = n, 1, -1 do
        out[k] = v % 256
        v = (v - out[k]) / 256
    end
    return string.char(unpack(out))
end

-- The packed times of a layout-2 value.
local function times(created, last, deadline)
    local bound = math.ceil((deadline - last) / 1000)
    if bound >= NO_BOUND then bound = NO_BOUND elseif bound < 0 then bound = 0 end
    return bytes(created, 6) .. bytes(last - created, 5) .. bytes(bound, 3)
end

local function parse2(value)
    local mark, at, slot = string.byte(value, 1), 2, 0
    if mark >= 128 then
        slot, at = string.byte(value, 2), 3
    end
    local created = int_at(value, at + 16, 6)
    local last = created + int_at(value, at + 22, 5)
    local bound = int_at(value, at + 27, 3)
    local deadline = last + bound * 1000
    if bound == NO_BOUND then deadline = math.huge end
    return {
        layout = 2, mark = mark, slot = slot, verifier = string.sub(value, at, at + 15),
        created = created, last = last, deadline = deadline,
        head = string.sub(value, 1, at + 15), body = string.sub(value, at + 30),
    }
end

local function parse1(value)
    local verifier, last, absolute, created, uid = string.match(value, '^([^|]*)|(%w+)|(%w+)|(%w+)|(.*)$')
    return {
        layout = 1, verifier = verifier, last = tonumber(last, 36), deadline = tonumber(absolute, 36),
        created = tonumber(created, 36), uid = uid,
    }
end

-- Whether a stored verifier is one of `candidates`: 16-byte verifiers
-- concatenated, one per signing key (the token's under each key).
local function is_verifier(verifier, candidates)
    for i = 1, #candidates, 16 do
        if string.sub(candidates, i, i + 15) == verifier then return true end
    end
    return false
end

-- When a session dies: idle timeout after its last use, or the absolute
-- lifetime after its creation (both as set now), or the deadline recorded
-- when it was last written, whichever comes first. The one rule of a
-- session's life: a later setting never revives a session already dead.
local function ends_at(s, idle, lifetime)
    return math.min(s.last + idle, s.created + lifetime, s.deadline)
end

-- The credential fingerprint a session records ('' for layout 1, which has none).
local function credential_of(s)
    if s.layout == 1 then return '' end
    return string.sub(s.body, 1, s.mark % 16)
end

-- Forget a session with its other fields.
local function drop(key, s)
    if s.layout == 2 then
        redis.call('HDEL', key, s.field, s.field .. 'm', s.field .. 'a')
    else
        redis.call('HDEL', key, s.field, 'm:' .. s.field)
    end
end

-- The first n bytes of s, not cutting a UTF-8 character.
local function clip_bytes(s, n)
    if #s <= n then return s end
    while n > 0 do
        local b = string.byte(s, n + 1)
        if b < 128 or b >= 192 then break end
        n = n - 1
    end
    return string.sub(s, 1, n)
end

-- The device name of a session (replacing on the same device name).
local function device_of(s)
    if s.layout == 1 then
        return string.match(s.meta, '^[^\t]*')
    end
    local rest = s.meta or string.sub(s.body, s.mark % 16 + 1)
    local kind, skip = math.floor(s.mark / 16) % 4, 0
    if kind == 1 then skip = 4 elseif kind == 2 then skip = 16 elseif kind == 3 then skip = 1 + string.byte(rest, 1) end
    rest = string.sub(rest, skip + 1)
    local nul = string.find(rest, '\0', 1, true)
    return nul and string.sub(rest, 1, nul - 1) or rest
end

-- A write that may be refused without harm (a renewal, pruning a dead
-- session): true when done, false when Redis refused it because it is full
-- (OOM, maxmemory with noeviction) or short of replicas (NOREPLICAS, with
-- min-replicas-to-write); any other error is raised as redis.call would.
local function try_write(...)
    local reply = redis.pcall(...)
    if type(reply) == 'table' and reply.err then
        if string.find(reply.err, '^OOM') or string.find(reply.err, '^NOREPLICAS') then
            return false
        end
        error(reply)
    end
    return true
end

-- Every session of a hash, both layouts, from one HGETALL: a list of
-- parsed sessions (with field, value, uid, meta, agent), and {slot -> user id}.
local function all_sessions(key)
    local flat, fields, slots, found = redis.call('HGETALL', key), {}, {}, {}
    for i = 1, #flat, 2 do
        fields[flat[i]] = flat[i + 1]
        if #flat[i] == 1 then slots[string.byte(flat[i])] = flat[i + 1] end
    end
    for i = 1, #flat, 2 do
        local name, value, s = flat[i], flat[i + 1], nil
        if #name == 9 then
            s = parse2(value)
            s.uid, s.meta, s.agent = slots[s.slot], fields[name .. 'm'], fields[name .. 'a']
        elseif #name == 12 then
            s = parse1(value)
            s.meta = fields['m:' .. name] or ''
        end
        if s and s.uid then
            s.field, s.value = name, value
            table.insert(found, s)
        end
    end
    return found, slots
end

-- Delete a hash left with no session (only user slots).
local function tidy(key, remaining)
    if remaining == 0 then redis.call('DEL', key) end
end

-- Keep a hash alive at least until `at` (ms); a new hash has no TTL yet.
local function keep_until(key, at)
    if redis.call('PEXPIRETIME', key) < at then
        redis.call('PEXPIREAT', key, at)
    end
end

-- The slot of user `uid` in a hash, added if new. Slots of users with no
-- live session (`used` lists the others') are freed on the way.
local function slot_for(key, slots, uid, used)
    local mine
    for slot, owner in pairs(slots) do
        if owner == uid then
            mine = slot
        elseif not used[slot] then
            redis.call('HDEL', key, string.char(slot))
            slots[slot] = nil
        end
    end
    if mine then return mine end
    for slot = 0, 255 do
        if not slots[slot] then
            redis.call('HSET', key, string.char(slot), uid)
            return slot
        end
    end
    error('redistoken: 256 users share this hash tag')
end

-- Write a layout-2 session; `kinds` is 16 * ip kind + credential length.
-- Returns the value and the 'm' field written ('' when none).
local function put2(key, field, slot, kinds, verifier, created, last, deadline, credential, rest, agent)
    local head
    if slot == 0 then head = string.char(64 + kinds) else head = string.char(128 + kinds, slot) end
    local value, meta = head .. verifier .. times(created, last, deadline) .. credential, ''
    if #value + #rest <= VALUE_MAX then
        value = value .. rest
        redis.call('HSET', key, field, value)
    else
        meta = rest
        redis.call('HSET', key, field, value, field .. 'm', meta)
    end
    if agent ~= '' then redis.call('HSET', key, field .. 'a', agent) end
    keep_until(key, deadline)
    return value, meta
end
