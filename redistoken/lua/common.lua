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

-- When a session dies: idle timeout after its last use, or its absolute deadline.
local function expiry(value, idle)
    local last, absolute = parse(value)
    return math.min(last + idle, absolute)
end

-- Every session in a user hash, read with one HGETALL: a list of
-- {session id, value, metadata ('' when none)}.
local function all_sessions(key)
    local fields, meta, found = redis.call('HGETALL', key), {}, {}
    for i = 1, #fields, 2 do
        if string.sub(fields[i], 1, 2) == 'm:' then
            meta[string.sub(fields[i], 3)] = fields[i + 1]
        end
    end
    for i = 1, #fields, 2 do
        if string.sub(fields[i], 1, 2) ~= 'm:' then
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
