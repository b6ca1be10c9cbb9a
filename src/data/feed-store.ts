import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import type { FeatureType } from '../domain/model';
import { REASON_CODES, reasonOf, type RankedItem, type Reason } from '../domain/ranking';
import type { Config } from '../config';
import { ServiceUnavailableError } from '../errors';
import { keyServers, userStateKey, userStateKeyPattern, type RedisClient } from './redis';

/**
 * The feed's short-lived state in Redis, one hash per user: the ranking ready for their next first
 * page, their two latest frozen rankings for paging (later pages come from them, so moving scores
 * never repeat or skip an event), and events to hide at once.
 *
 * A ranking is ready only for the model it was made from. The hash holds a generation, bumped by
 * the worker before and after every write of the user's interactions; a ranking made under one
 * generation is stored as ready only if it is still current, and served only while it is; and
 * none is, for a user with a write in flight (from the bump before its commit to the one after).
 * So no first page is served from a ranking made without an interaction the worker has stored.
 */
export interface FeedStore {
  /**
   * The ranking ready for the user's next first page, if one was made under the current generation
   * within `maxAgeMs`; it becomes their latest frozen ranking, for paging. Without one, returns the
   * generation to hand to `save` (and starts the user's hash, so that a write from now on bumps it).
   */
  takeReady(userId: string, maxAgeMs: number): Promise<{ ready?: Ranking; generation: string }>;
  /**
   * Freezes a ranking made under `generation` for paging and returns its id; it is also ready for
   * the next first page if the generation is still current (never without one: a ranking that may
   * miss stored interactions). A user keeps their two latest frozen
   * rankings (a second tab or device may still be paging through the older): what Redis holds
   * grows with the users who read their feed, not with the requests they make.
   */
  save(userId: string, items: RankedItem[], generation: string | undefined): Promise<string>;
  /** The user's frozen ranking of that id; undefined once it expired or two newer ones replaced it. */
  load(userId: string, id: string): Promise<RankingItems | undefined>;
  /**
   * The user's generation, to rank their feed ahead under; undefined when there is nothing to do:
   * they have not read their feed lately, or a ranking is ready under it already.
   */
  generation(userId: string): Promise<string | undefined>;
  /** Stores a ranking made ahead of a request as ready, if the generation is still current. */
  offer(userId: string, items: RankedItem[], generation: string): Promise<boolean>;
  /**
   * Before a write of these users' interactions commits: bumps the generation of those who read
   * their feed lately, and marks a write in flight. While it is (until `invalidate` ends it, or for
   * the write mark's time if the writer died), no ranking of theirs is served or made ready: one
   * made now may have read the model without the write.
   */
  beginWrite(userIds: string[]): Promise<void>;
  /**
   * Bumps the generation of those users who read their feed lately, and ends a write begun with
   * `beginWrite`. `claim`: also returns those of them who read a first page since their feed was
   * last claimed here, to be ranked ahead; so a user who writes more often than they read costs at
   * most one ranking per read.
   */
  invalidate(userIds: string[], claim: boolean): Promise<string[]>;
  /**
   * Bumps every user's generation: once a rebuild has committed, no ranking made from the model
   * before it is served. Returns how many feeds there were.
   */
  invalidateAll(): Promise<number>;
  /**
   * Hides an event from the user's feed from now on (a DISMISS or an APPLY accepted), without
   * waiting for the worker, however far behind it is. Kept a day: by then the model knows.
   */
  hide(userId: string, eventId: string): Promise<void>;
  hidden(userId: string): Promise<Set<string>>;
}

export interface Ranking {
  id: string;
  items: RankingItems;
}

/** A ranking's items as paging reads them: a stored ranking is expanded only as far as a page needs. */
export type RankingItems = Pick<readonly RankedItem[], 'length' | 'slice'>;

/*
 * The hash's fields: gen; the ready ranking (ready, readyId, readyGen, readyAt); the frozen ones
 * (currentId, current, previous); read, set by a first page and claimed by the worker's bump;
 * writing and writingAt, the writes in flight and when the last began. A ranking is stored once:
 * while the current ranking is the ready one (currentId = readyId), `current` is absent and its
 * text is `ready`'s.
 */

/**
 * Redis's clock in ms (one clock for every process that stamps or checks a ranking's age), and
 * whether a write is in flight (its count and start, against the write mark's time in ARGV).
 */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function writing(count, at, markMs)
  return count ~= false and tonumber(count) > 0 and now - tonumber(at) < tonumber(markMs)
end`;

/**
 * Serves the ready ranking (ARGV: its greatest age in ms, TTL, write mark) or returns the generation. A new
 * hash (or one lost to expiry or a failover) starts at a generation no ranking can have read: the
 * time in microseconds.
 */
const TAKE_READY = `${NOW}
local f = redis.call('HMGET', KEYS[1], 'gen', 'ready', 'readyGen', 'readyAt', 'readyId', 'currentId', 'current', 'writing', 'writingAt')
local gen = f[1]
if not gen then
  gen = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('HSET', KEYS[1], 'gen', gen)
end
if f[2] and f[3] == gen and now - tonumber(f[4]) < tonumber(ARGV[1]) and not writing(f[8], f[9], ARGV[3]) then
  if f[6] ~= f[5] then
    if f[7] then redis.call('HSET', KEYS[1], 'previous', f[7]) end
    redis.call('HDEL', KEYS[1], 'current')
    redis.call('HSET', KEYS[1], 'currentId', f[5])
  end
  redis.call('HSET', KEYS[1], 'read', 1)
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return {gen, f[2]}
end
if f[2] and f[6] ~= f[5] then redis.call('HDEL', KEYS[1], 'ready', 'readyId', 'readyGen', 'readyAt') end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {gen}`;

/**
 * Moves the current frozen ranking to previous and stores the new one (ARGV: text, id, generation,
 * TTL, write mark), ready too if its generation is current and no write is in flight. A ready one
 * of an older generation can never be served again, and goes.
 */
const SAVE = `${NOW}
local f = redis.call('HMGET', KEYS[1], 'current', 'currentId', 'readyId', 'ready', 'gen', 'readyGen', 'writing', 'writingAt')
local current = f[1]
if f[2] and f[2] == f[3] then current = f[4] end
if current then redis.call('HSET', KEYS[1], 'previous', current) end
if f[5] and f[5] == ARGV[3] and not writing(f[7], f[8], ARGV[5]) then
  redis.call('HSET', KEYS[1], 'ready', ARGV[1], 'readyId', ARGV[2], 'readyGen', ARGV[3], 'readyAt', now, 'currentId', ARGV[2])
  redis.call('HDEL', KEYS[1], 'current')
else
  redis.call('HSET', KEYS[1], 'current', ARGV[1], 'currentId', ARGV[2])
  if f[3] and f[6] ~= f[5] then redis.call('HDEL', KEYS[1], 'ready', 'readyId', 'readyGen', 'readyAt') end
end
redis.call('HSET', KEYS[1], 'read', 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])`;

/**
 * Stores a ranking made ahead as ready (ARGV: text, id, generation, write mark): only in a live
 * hash, under the current generation, with no write in flight.
 */
const OFFER = `${NOW}
local f = redis.call('HMGET', KEYS[1], 'gen', 'currentId', 'readyId', 'ready', 'writing', 'writingAt')
if f[1] ~= ARGV[3] or writing(f[5], f[6], ARGV[4]) then return 0 end
if f[2] and f[2] == f[3] then redis.call('HSET', KEYS[1], 'current', f[4]) end
redis.call('HSET', KEYS[1], 'ready', ARGV[1], 'readyId', ARGV[2], 'readyGen', ARGV[3], 'readyAt', now)
return 1`;

/** The frozen ranking of that id (ARGV), current or previous, or nothing. */
const LOAD = `
local f = redis.call('HMGET', KEYS[1], 'current', 'previous', 'currentId', 'readyId', 'ready')
local current = f[1]
if f[3] and f[3] == f[4] then current = f[5] end
local prefix = '{"id":"' .. ARGV[1] .. '"'
if current and string.sub(current, 1, #prefix) == prefix then return current end
if f[2] and string.sub(f[2], 1, #prefix) == prefix then return f[2] end
return false`;

/**
 * Bumps the generation of each key's user who has a hash; with ARGV[2] = '1', also ends a write in
 * flight. Claiming (ARGV[1] = '1'), it returns the positions (1-based) of those who read a first
 * page since their feed was last claimed for ranking ahead, and claims it: at most one ranking
 * ahead per first page read.
 */
const BUMP = `
local live = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, 'gen', 1)
    if ARGV[2] == '1' and tonumber(redis.call('HGET', key, 'writing') or '0') > 0 then redis.call('HINCRBY', key, 'writing', -1) end
    if ARGV[1] == '1' and redis.call('HDEL', key, 'read') == 1 then live[#live + 1] = i end
  end
end
return live`;

/**
 * Bumps the generation of each key's user who has a hash, and counts a write in flight (ARGV: the
 * write mark's time). A count older than that was left by a writer that died, and starts again.
 */
const BEGIN = `${NOW}
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    local f = redis.call('HMGET', key, 'writing', 'writingAt')
    local count = tonumber(f[1] or '0')
    if f[2] and now - tonumber(f[2]) >= tonumber(ARGV[1]) then count = 0 end
    redis.call('HSET', key, 'writing', count + 1, 'writingAt', now)
    redis.call('HINCRBY', key, 'gen', 1)
  end
end`;

type ScriptedRedis = RedisClient & {
  feedTakeReady(key: string, maxAgeMs: number, ttl: number, writeMarkMs: number): Promise<[string, string?]>;
  feedSave(key: string, text: string, id: string, generation: string, ttl: number, writeMarkMs: number): Promise<unknown>;
  feedOffer(key: string, text: string, id: string, generation: string, writeMarkMs: number): Promise<number>;
  feedBegin(keyCount: number, ...keysThenMark: (string | number)[]): Promise<unknown>;
  feedBump(keyCount: number, ...keysThenClaimAndEnd: string[]): Promise<number[]>;
  feedLoad(key: string, id: string): Promise<string | null>;
};

/** A write mark outlasts a dead worker's job being delivered again (within about twice the lock) and run. */
export function writeMarkMs(config: Pick<Config, 'worker'>): number {
  return 3 * config.worker.lockMs;
}

/**
 * Feed state in Redis. A user's hash expires `ttlSeconds` after their last first page (a cursor
 * older than that is refused). `writeMarkMs`: how long a write in flight holds back their rankings
 * if its writer never ends it; longer than a dead worker's job takes to be delivered again.
 */
export function redisFeedStore(
  redis: RedisClient,
  prefix: string,
  { ttlSeconds = 30 * 60, writeMarkMs = 90_000 }: { ttlSeconds?: number; writeMarkMs?: number } = {},
): FeedStore {
  const scripted = redis as ScriptedRedis;
  // Sent once per connection, then by hash (EVALSHA).
  if (!('feedTakeReady' in redis)) {
    redis.defineCommand('feedTakeReady', { numberOfKeys: 1, lua: TAKE_READY });
    redis.defineCommand('feedSave', { numberOfKeys: 1, lua: SAVE });
    redis.defineCommand('feedOffer', { numberOfKeys: 1, lua: OFFER });
    redis.defineCommand('feedBegin', { lua: BEGIN });
    redis.defineCommand('feedBump', { lua: BUMP });
    redis.defineCommand('feedLoad', { numberOfKeys: 1, lua: LOAD });
  }
  const rankingKey = (userId: string) => userStateKey(prefix, 'feed', userId);
  const hiddenKey = (userId: string) => userStateKey(prefix, 'hidden', userId);
  const stored = (items: RankedItem[]) => {
    const id = randomBytes(12).toString('base64url');
    const ranking: StoredRanking = { id, items: items.map(compact) };
    return { id, text: JSON.stringify(ranking) };
  };
  return {
    async takeReady(userId, maxAgeMs) {
      const [generation, text] = await scripted.feedTakeReady(rankingKey(userId), maxAgeMs, ttlSeconds, writeMarkMs).catch(unavailable);
      if (!text) return { generation };
      const ranking = JSON.parse(text) as StoredRanking;
      return { generation, ready: { id: ranking.id, items: lazy(ranking.items) } };
    },
    async save(userId, items, generation) {
      const { id, text } = stored(items);
      // No generation is empty, so '' is never current.
      await scripted.feedSave(rankingKey(userId), text, id, generation ?? '', ttlSeconds, writeMarkMs).catch(unavailable);
      return id;
    },
    async load(userId, id) {
      const text = await scripted.feedLoad(rankingKey(userId), id).catch(unavailable);
      return text ? lazy((JSON.parse(text) as StoredRanking).items) : undefined;
    },
    async generation(userId) {
      const [generation, readyGeneration] = await redis.hmget(rankingKey(userId), 'gen', 'readyGen');
      return generation && generation !== readyGeneration ? generation : undefined;
    },
    async offer(userId, items, generation) {
      const { id, text } = stored(items);
      return (await scripted.feedOffer(rankingKey(userId), text, id, generation, writeMarkMs)) === 1;
    },
    async beginWrite(userIds) {
      await Promise.all(
        bySlot(redis, [...new Set(userIds)], rankingKey).map((group) =>
          scripted.feedBegin(group.length, ...group.map(rankingKey), writeMarkMs),
        ),
      );
    },
    async invalidate(userIds, claim) {
      const users = [...new Set(userIds)];
      // One command for all of them (a transaction's users cost Redis one script call, not one
      // each); on a cluster, one per slot, as a script's keys must share one.
      const claimed = await Promise.all(
        bySlot(redis, users, rankingKey).map(async (group) => {
          const live = await scripted.feedBump(group.length, ...group.map(rankingKey), claim ? '1' : '0', '1');
          return live.map((position) => group[position - 1]!);
        }),
      );
      return claimed.flat();
    },
    async invalidateAll() {
      let feeds = 0;
      // SCAN returns every key that exists from its start to its end; a hash started meanwhile has
      // a generation no ranking from before can have read.
      for (const server of keyServers(redis)) {
        const scan = server.scanStream({ match: userStateKeyPattern(prefix, 'feed'), count: 1000 }) as AsyncIterable<string[]>;
        for await (const keys of scan) {
          // Keys of one server may still span slots: bumped a slot at a time, through the client.
          await Promise.all(bySlot(redis, keys, (key) => key).map((group) => scripted.feedBump(group.length, ...group, '0', '0')));
          feeds += keys.length;
        }
      }
      return feeds;
    },
    async hide(userId, eventId) {
      await redis
        .multi()
        .sadd(hiddenKey(userId), eventId)
        .expire(hiddenKey(userId), 24 * 60 * 60)
        .exec()
        .catch(unavailable);
    },
    async hidden(userId) {
      return new Set(await redis.smembers(hiddenKey(userId)).catch(unavailable));
    },
  };
}

/**
 * A ranking as stored: an item is `[eventId, score, ...reasons]`, a reason its code, or
 * `matches_interest:<type>:<value>`; the texts are put back on the way out. A quarter of the size of
 * the items as JSON.
 */
interface StoredRanking {
  id: string;
  items: [string, number, ...string[]][];
}

function compact(item: RankedItem): StoredRanking['items'][number] {
  return [
    item.eventId,
    item.score,
    ...item.reasons.map((r) => (r.code === 'matches_interest' ? `${r.code}:${r.feature.type}:${r.feature.value}` : r.code)),
  ];
}

function lazy(items: StoredRanking['items']): RankingItems {
  return { length: items.length, slice: (start, end) => items.slice(start, end).map(expand) };
}

function expand([eventId, score, ...reasons]: StoredRanking['items'][number]): RankedItem {
  return {
    eventId,
    score,
    // A ranking frozen by an earlier version may carry a code that is gone: it is left out.
    reasons: reasons.flatMap((code): Reason[] => {
      if (!code.startsWith('matches_interest:')) {
        return (REASON_CODES as readonly string[]).includes(code) ? [reasonOf(code as Exclude<Reason['code'], 'matches_interest'>)] : [];
      }
      const [, type, ...value] = code.split(':');
      return [reasonOf('matches_interest', { type: type as FeatureType, value: value.join(':') })];
    }),
  };
}

/** `items` in groups whose keys share a Redis Cluster slot; one group when not on a cluster. */
function bySlot<T>(redis: RedisClient, items: T[], key: (item: T) => string): T[][] {
  if (!(redis instanceof Cluster)) return items.length > 0 ? [items] : [];
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const slot = calculateSlot(key(item));
    const group = groups.get(slot);
    if (group) group.push(item);
    else groups.set(slot, [item]);
  }
  return [...groups.values()];
}

function unavailable(cause: unknown): never {
  throw new ServiceUnavailableError('The feed store is unavailable; retry shortly', { cause });
}
