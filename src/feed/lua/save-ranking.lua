-- Stores a user's new latest feed ranking of one scope (ARGV[3]: '' for the plain feed, a filter's
-- name otherwise) as ARGV[1] and its head (what a first page reads) as ARGV[5], keeping the one it
-- replaces for a cursor still paging through it, and renews the hash's time to live (ARGV[2],
-- seconds). One script, so that two first pages saving at once cannot both move the same ranking to
-- "previous" and lose the other. A user who asks for more than ARGV[4] filter sets keeps only the
-- plain feed's rankings and this one's: what Redis holds stays bounded per user.
local suffix = ARGV[3] == '' and '' or (':' .. ARGV[3])
local latest = redis.call('HGET', KEYS[1], 'latest' .. suffix)
if latest then redis.call('HSET', KEYS[1], 'previous' .. suffix, latest) end
redis.call('HSET', KEYS[1], 'latest' .. suffix, ARGV[1], 'head' .. suffix, ARGV[5])
-- Every scope holds two or three fields (latest and head, then previous too): count the filter sets
-- (the scopes but the plain feed's, whether or not the user asked for it) only once there may be
-- too many.
local most = tonumber(ARGV[4])
if redis.call('HLEN', KEYS[1]) > 2 * most then
  local fields = redis.call('HKEYS', KEYS[1])
  local seen, filters = {}, 0
  for _, field in ipairs(fields) do
    -- latest, previous or head, then the scope's suffix
    local scope = string.match(field, '^%a+(.*)$')
    if scope ~= '' and not seen[scope] then seen[scope], filters = true, filters + 1 end
  end
  if filters > most then
    for _, field in ipairs(fields) do
      local scope = string.match(field, '^%a+(.*)$')
      if scope ~= '' and scope ~= suffix then redis.call('HDEL', KEYS[1], field) end
    end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
