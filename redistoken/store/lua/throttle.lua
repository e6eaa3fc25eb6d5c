-- Login throttle: failure counters, checked and counted in one atomic step.
--
-- An attempt is counted as a failure before the password is checked and
-- taken back when it succeeds, so attempts racing in parallel cannot slip
-- past a limit (each one sees the ones before it). Counters are fixed
-- windows that start at the first failure and expire by themselves.
--
-- KEYS[1]  failures of one username from one address
-- KEYS[2]  failures from one address
-- KEYS[3]  failures of one username from any address (the ceiling)
-- KEYS[4]  the username's next free slot once over its ceiling
-- ARGV[1]  'attempt': refuse, or count a failure; 'success': take it back
--          and clear KEYS[1] (the user is back on their own address)
-- ARGV[2]  limit of KEYS[1] (0: none)
-- ARGV[3]  its window (ms)
-- ARGV[4]  limit of KEYS[2] (0: none)
-- ARGV[5]  its window (ms)
-- ARGV[6]  ceiling of KEYS[3] (0: none); over it a username gets one
--          attempt per window / ceiling, from whichever address: slowed
--          down, never locked out
-- ARGV[7]  its window (ms)
--
-- Uses common.lua (prepended). All four keys share one hash tag (a Redis
-- Cluster runs a script only on keys of one slot).
--
-- A full Redis (maxmemory, noeviction) cannot count: the attempt then goes
-- ahead uncounted. A full Redis refuses new sessions anyway, and a
-- revocation, which frees memory, must not be refused for it.
--
-- Returns 0 when the attempt may go ahead (and was counted), otherwise
-- the milliseconds to wait; 0 for 'success'.
local limits = {
    {KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3])},
    {KEYS[2], tonumber(ARGV[4]), tonumber(ARGV[5])},
    {KEYS[3], tonumber(ARGV[6]), tonumber(ARGV[7])},
}

local function count(key)
    return tonumber(redis.call('GET', key) or '0')
end

local function wait(key)
    return math.max(redis.call('PTTL', key), 1)
end

-- A growing write's reply, or nil when Redis is full; other errors are raised.
local function grow(...)
    local reply = redis.pcall(...)
    if type(reply) == 'table' and reply.err then
        if string.find(reply.err, '^OOM') then return nil end
        error(reply)
    end
    return reply
end

if ARGV[1] == 'success' then
    for i = 2, 3 do
        if limits[i][2] > 0 and count(limits[i][1]) > 0 then
            try_write('DECR', limits[i][1])
        end
    end
    redis.call('DEL', KEYS[1])
    return 0
end

for i = 1, 2 do
    local key, limit = limits[i][1], limits[i][2]
    if limit > 0 and count(key) >= limit then
        return wait(key)
    end
end
local ceiling, window = limits[3][2], limits[3][3]
if ceiling > 0 and count(KEYS[3]) >= ceiling then
    local spacing = math.max(math.floor(window / ceiling), 1)
    local slot = grow('SET', KEYS[4], '1', 'NX', 'PX', spacing)
    if slot == nil then return 0 end  -- full
    if not slot then
        return wait(KEYS[4])
    end
end
for _, item in ipairs(limits) do
    if item[2] > 0 then
        local n = grow('INCR', item[1])
        if n == nil then return 0 end  -- full: uncounted
        if n == 1 then redis.call('PEXPIRE', item[1], item[3]) end
    end
end
return 0
