import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { FeatureType } from '../domain/model';
import { reasonOf, type RankedItem, type Reason } from '../domain/ranking';
import { ServiceUnavailableError } from '../errors';
import { userStateKey } from './redis';

/**
 * The feed's short-lived state in Redis: each user's frozen ranking for paging (later pages come
 * from it, so moving scores never repeat or skip an event), and events to hide at once.
 */
export interface FeedStore {
  /**
   * Freezes the user's ranking and returns its id. A user keeps their two latest (a second tab or
   * device may still be paging through the older): what Redis holds grows with the users who page,
   * not with the requests they make.
   */
  save(userId: string, items: RankedItem[]): Promise<string>;
  /** The user's frozen ranking of that id; undefined once it expired or two newer ones replaced it. */
  load(userId: string, id: string): Promise<RankedItem[] | undefined>;
  /**
   * Hides an event from the user's feed from now on (a DISMISS or an APPLY accepted), without
   * waiting for the worker, however far behind it is. Kept a day: by then the model knows.
   */
  hide(userId: string, eventId: string): Promise<void>;
  hidden(userId: string): Promise<Set<string>>;
}

/** Moves the user's current ranking to `previous` (dropping the one there) and stores the new one, in one step. */
const SAVE_RANKING = `
local current = redis.call('HGET', KEYS[1], 'current')
if current then redis.call('HSET', KEYS[1], 'previous', current) end
redis.call('HSET', KEYS[1], 'current', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])`;

/** Rankings in Redis, expiring after `ttlSeconds` (a cursor older than that is refused). */
export function redisFeedStore(redis: Redis, prefix: string, ttlSeconds = 30 * 60): FeedStore {
  const rankingKey = (userId: string) => userStateKey(prefix, 'feed', userId);
  const hiddenKey = (userId: string) => userStateKey(prefix, 'hidden', userId);
  return {
    async save(userId, items) {
      const id = randomBytes(12).toString('base64url');
      const stored: StoredRanking = { id, items: items.map(compact) };
      await redis.eval(SAVE_RANKING, 1, rankingKey(userId), JSON.stringify(stored), ttlSeconds).catch(unavailable);
      return id;
    },
    async load(userId, id) {
      const texts = await redis.hmget(rankingKey(userId), 'current', 'previous').catch(unavailable);
      // The id leads the stored text: only the ranking asked for is parsed.
      const text = texts.find((t) => t?.startsWith(`{"id":"${id}"`));
      return text ? (JSON.parse(text) as StoredRanking).items.map(expand) : undefined;
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

function expand([eventId, score, ...reasons]: StoredRanking['items'][number]): RankedItem {
  return {
    eventId,
    score,
    reasons: reasons.map((code): Reason => {
      if (!code.startsWith('matches_interest:')) return reasonOf(code as Exclude<Reason['code'], 'matches_interest'>);
      const [, type, ...value] = code.split(':');
      return reasonOf('matches_interest', { type: type as FeatureType, value: value.join(':') });
    }),
  };
}

function unavailable(cause: unknown): never {
  throw new ServiceUnavailableError('The feed store is unavailable; retry shortly', { cause });
}
