-- Stores a user's new latest feed ranking (ARGV[1]), keeping the one it replaces for a cursor still
-- paging through it, and renews the hash's time to live (ARGV[2], seconds). One script, so that two
-- first pages saving at once cannot both move the same ranking to "previous" and lose the other.
local latest = redis.call('HGET', KEYS[1], 'latest')
if latest then redis.call('HSET', KEYS[1], 'previous', latest) end
redis.call('HSET', KEYS[1], 'latest', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
