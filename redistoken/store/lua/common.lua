-- Helpers shared by every script: the store prepends this file to each
-- script before sending it, since Redis scripts cannot import code.
--
-- A session value is  verifier|last used|absolute deadline|created|user id
-- with times in milliseconds of Redis's clock, written in base 36 (so that a
-- value stays under 64 bytes and the hash keeps its compact encoding).

-- Milliseconds now, by Redis's clock (never the web servers').
local function now_ms()
    local clock = redis.call('TIME')
    return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end

local function base36(n)
    local digits, text = '0123456789abcdefghijklmnopqrstuvwxyz', ''
    repeat
        local d = n % 36
        text = string.sub(digits, d + 1, d + 1) .. text
        n = (n - d) / 36
    until n == 0
    return text
end

-- last used (ms), absolute deadline (ms), created (base 36 text), user id
local function parse(value)
    local last, absolute, created, uid = string.match(value, '^[^|]*|(%w+)|(%w+)|(%w+)|(.*)$')
    return tonumber(last, 36), tonumber(absolute, 36), created, uid
end

-- A session value; `created` is base 36 text, as parse() returns it.
local function pack(verifier, last, absolute, created, uid)
    return table.concat({verifier, base36(last), base36(absolute), created, uid}, '|')
end

-- The verifier a session value starts with (22 characters).
local function verifier_of(value)
    return string.sub(value, 1, 22)
end

-- The field holding a session's metadata (device TAB ip TAB user agent [TAB credential]).
local function meta_field(sid)
    return 'm:' .. sid
end

local function is_meta(field)
    return string.sub(field, 1, 2) == 'm:'
end

-- When a session dies: idle timeout after its last use, or its absolute
-- deadline, whichever comes first. The one rule of a session's life.
local function ends_at(last, absolute, idle)
    return math.min(last + idle, absolute)
end

local function expiry(value, idle)
    local last, absolute = parse(value)
    return ends_at(last, absolute, idle)
end

-- Forget a session: its value and its metadata.
local function drop(key, sid)
    redis.call('HDEL', key, sid, meta_field(sid))
end

-- Every session in a user hash, read with one HGETALL: a list of
-- {session id, value, metadata ('' when none)}.
local function all_sessions(key)
    local fields, meta, found = redis.call('HGETALL', key), {}, {}
    for i = 1, #fields, 2 do
        if is_meta(fields[i]) then
            meta[string.sub(fields[i], 3)] = fields[i + 1]
        end
    end
    for i = 1, #fields, 2 do
        if not is_meta(fields[i]) then
            table.insert(found, {fields[i], fields[i + 1], meta[fields[i]] or ''})
        end
    end
    return found
end

-- Keep a hash alive at least until `at` (ms); a new hash has no TTL yet.
local function keep_until(key, at)
    if redis.call('PEXPIRETIME', key) < at then
        redis.call('PEXPIREAT', key, at)
    end
end

-- Write a new session and its metadata, and keep the hash alive for it.
local function put(key, sid, value, meta, expires_at)
    redis.call('HSET', key, sid, value, meta_field(sid), meta)
    keep_until(key, expires_at)
end
