-- Revoke exactly the sessions a roster listed in one user hash, in one
-- atomic step: each only if it is still there with the user and the
-- credential it was listed with, so a session issued after the listing,
-- or one whose credential was renewed since, is left alone.
--
-- KEYS[1]  a user hash  {prefix}{tag}
-- ARGV[1]  the sessions, packed: for each, 1 byte n, the n bytes of its
--          field, 1 byte m, the m bytes of the credential it was listed
--          with, 1 byte u, the u bytes of its user id (first 255)
--
-- Uses common.lua (prepended).
--
-- Returns {session field, user id, ...} for the sessions deleted, as
-- revoke.lua does, so that each revocation can be signalled and logged.
local key, packed, wanted, i = KEYS[1], ARGV[1], {}, 1
local function take()
    local n = string.byte(packed, i)
    local part = string.sub(packed, i + 1, i + n)
    i = i + 1 + n
    return part
end
while i <= #packed do
    local field = take()
    local credential = take()
    wanted[field] = {credential, take()}
end
local sessions = all_sessions(key)
local revoked = {}
for _, s in ipairs(sessions) do
    local listed = wanted[s.field]
    if listed and listed[1] == credential_of(s) and listed[2] == string.sub(s.uid, 1, 255) then
        drop(key, s)
        table.insert(revoked, s.field)
        table.insert(revoked, s.uid)
    end
end
if #sessions > 0 then tidy(key, #sessions - #revoked / 2) end
return revoked
