-- Store a new session and add it to its user's index, enforcing the
-- per-user cap and one session per device name, atomically: two racing
-- logins can never leave more sessions than the cap.
--
-- KEYS[1]  the user's index (zset)  {prefix}{tag}:i
-- KEYS[2]  the new session key      {prefix}{tag}:s:{session id}
-- ARGV[1]  verifier of the new token (22 characters)
-- ARGV[2]  the new session id
-- ARGV[3]  idle timeout (ms)
-- ARGV[4]  absolute lifetime (ms)
-- ARGV[5]  metadata JSON: {"u": user id, "d": device, "i": ip, "a": user agent}
-- ARGV[6]  the user id, as in the metadata
-- ARGV[7]  the cap on live sessions per user, 0 for none
-- ARGV[8]  device name ('' for none): an older session of this user with the
--          same device name is replaced
--
-- Returns {now_ms, expires_at_ms, replaced session ids..., "", evicted session ids...}
-- Other session keys are found through the index; they share the hash tag,
-- so on Redis Cluster they live in the same slot as the declared keys.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local base = string.sub(KEYS[1], 1, -2) .. 's:'
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)

local cap = tonumber(ARGV[7])
local replaced, evicted = {}, {}
if cap > 0 or ARGV[8] ~= '' then
    local mine = {}
    for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
        local value = redis.call('GET', base .. sid)
        if not value then
            redis.call('ZREM', KEYS[1], sid)
        else
            local meta = cjson.decode(string.sub(value, 66))
            if meta.u == ARGV[6] then
                if ARGV[8] ~= '' and meta.d == ARGV[8] then
                    redis.call('DEL', base .. sid)
                    redis.call('ZREM', KEYS[1], sid)
                    table.insert(replaced, sid)
                else
                    table.insert(mine, {sid, string.sub(value, 52, 64)})
                end
            end
        end
    end
    if cap > 0 and #mine >= cap then
        table.sort(mine, function(a, b) return a[2] < b[2] end)
        for i = 1, #mine - cap + 1 do
            redis.call('DEL', base .. mine[i][1])
            redis.call('ZREM', KEYS[1], mine[i][1])
            table.insert(evicted, mine[i][1])
        end
    end
end

local absolute = now + tonumber(ARGV[4])
local expires_at = math.min(now + tonumber(ARGV[3]), absolute)
local stamp = string.format('%013d', now)
local value = ARGV[1] .. '|' .. string.format('%013d', absolute) .. '|' .. stamp .. '|' .. stamp .. '|' .. ARGV[5]
redis.call('SET', KEYS[2], value, 'PXAT', expires_at)
redis.call('ZADD', KEYS[1], expires_at, ARGV[2])
if redis.call('PEXPIRETIME', KEYS[1]) < expires_at then
    redis.call('PEXPIREAT', KEYS[1], expires_at)
end

local result = {now, expires_at}
for _, sid in ipairs(replaced) do table.insert(result, sid) end
table.insert(result, '')
for _, sid in ipairs(evicted) do table.insert(result, sid) end
return result
