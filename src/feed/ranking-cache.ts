import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FeatureType } from '../domain/model';
import { ServiceUnavailableError } from '../errors';
import { userStateKey, type RedisClient } from '../data/redis';
import { REASON_CODES, reasonOf, type RankedItem, type Reason } from './ranking';
import type { Versions } from './versions';

/**
 * A ranking's items as paging reads them: a stored ranking is expanded only as far as a page needs,
 * and a first page's is read from its head, the rest fetched only if the page reaches past it.
 */
export interface RankingItems {
  readonly length: number;
  slice(start: number, end: number): Promise<RankedItem[]>;
}

/** A ranking made for this request, as paging reads it. */
export const inMemory = (items: readonly RankedItem[]): RankingItems => ({
  length: items.length,
  slice: async (start, end) => items.slice(start, end),
});

/** How many of a ranking's best items its head holds: a first page of any limit (at most 100). */
export const HEAD_ITEMS = 100;

export interface StoredRanking {
  id: string;
  /** The versions it was made under (see versions.ts). */
  versions: Versions;
  /** The settings it was ranked with (settingsKey); absent from a ranking an older release stored. */
  settings?: string;
  /** The experiment's variant that ranked it (its impressions' variant); absent likewise. */
  variant?: string;
  /** When it was made (epoch ms). */
  madeAt: number;
  items: RankingItems;
}

/**
 * Feed rankings in Redis, one hash per user: per scope (the plain feed, '', and each filter the
 * user asks for, filterScope), the latest ranking, which a first page is served from while it is
 * true to the model (see feed.ts), and the one before it, which a cursor of another tab or device
 * may still be paging through. What Redis holds grows with the users who read their feed, not with
 * their requests: at most MAX_FILTER_SCOPES filters' rankings per user. Plus a sorted set per user
 * of events hidden at once (a DISMISS or an APPLY accepted), before the worker has stored them, each
 * for a day: what it holds grows with what the user hid in the last day, not ever.
 */
export interface RankingCache {
  /** Read from the ranking's head: the rest is fetched only if a page reaches past it. */
  latest(userId: string, scope: string): Promise<StoredRanking | undefined>;
  /** Stores a new latest ranking of the scope; the latest one so far is kept for paging, the one before goes. */
  save(
    userId: string,
    scope: string,
    items: RankedItem[],
    made: { versions: Versions; settings: string; variant?: string; madeAt: number },
  ): Promise<string>;
  /** The user's ranking of that scope and id, latest or previous; undefined once expired or two newer replaced it. */
  load(userId: string, scope: string, id: string): Promise<Pick<StoredRanking, 'items' | 'variant'> | undefined>;
  /** Hides the event from the user's pages for a day, from `at` (epoch ms). */
  hide(userId: string, eventId: string, at?: number): Promise<void>;
  /** The events hidden in the day before `now`. */
  hidden(userId: string, now?: number): Promise<Set<string>>;
}

const SAVE_RANKING = readFileSync(path.join(__dirname, 'lua', 'save-ranking.lua'), 'utf8');
// One command rather than a MULTI: the connection pipelines it with the other requests' commands of the
// turn. Each event is kept with when it was hidden, and those older than the time to live go: a user
// who hides something every day would otherwise keep every event they ever hid, read on every page.
const HIDE_EVENT = `redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(ARGV[2]) - 1000 * tonumber(ARGV[3])))
return redis.call('EXPIRE', KEYS[1], ARGV[3])`;

/** How long an event hidden at once stays hidden: the worker stores its DISMISS or APPLY long before. */
const HIDDEN_S = 24 * 60 * 60;
type Scripted = RedisClient & {
  saveRanking(key: string, text: string, ttlSeconds: number, scope: string, maxScopes: number, head: string): Promise<unknown>;
  hideEvent(key: string, eventId: string, at: number, ttlSeconds: number): Promise<unknown>;
};

/** How many filters' rankings one user keeps; asking for more drops the others' (their cursors then expire). */
export const MAX_FILTER_SCOPES = 8;

const field = (name: 'latest' | 'previous' | 'head', scope: string) => (scope ? `${name}:${scope}` : name);

/** How long a first page's cursor pages through its ranking, at least. */
export const CURSOR_LIFETIME_S = 30 * 60;

/** The ranking cache on `redis`; a user's hash expires `ttlSeconds` after their latest ranking was saved. */
export function redisRankingCache(redis: RedisClient, prefix: string, { ttlSeconds = CURSOR_LIFETIME_S } = {}): RankingCache {
  if (!('saveRanking' in redis)) redis.defineCommand('saveRanking', { numberOfKeys: 1, lua: SAVE_RANKING });
  if (!('hideEvent' in redis)) redis.defineCommand('hideEvent', { numberOfKeys: 1, lua: HIDE_EVENT });
  const scripted = redis as Scripted;
  const rankingKey = (userId: string) => userStateKey(prefix, 'feed', userId);
  // Not 'hidden', which held a set: a release before this one may still write that key.
  const hiddenKey = (userId: string) => userStateKey(prefix, 'hiding', userId);
  const cache: RankingCache = {
    async latest(userId, scope) {
      // The head, not the whole: a first page reads a fifth of what Redis would otherwise send and parse.
      const text = await redis.hget(rankingKey(userId), field('head', scope)).catch(unavailable);
      if (!text) return undefined;
      const head = decode(text);
      if (head.items.length >= head.length) return head;
      let rest: ReturnType<RankingCache['load']> | undefined;
      const whole = () => (rest ??= cache.load(userId, scope, head.id));
      const items: RankingItems = {
        length: head.length,
        async slice(start, end) {
          if (end <= head.items.length) return head.items.slice(start, end);
          // Replaced twice since the head was read: the page ends with the head.
          return ((await whole())?.items ?? head.items).slice(start, end);
        },
      };
      return { ...head, items };
    },
    async save(userId, scope, items, { versions, settings, variant, madeAt }) {
      const id = randomBytes(12).toString('base64url');
      const compacted = items.map(compact);
      const text = (part: StoredText['items']) =>
        JSON.stringify({
          id,
          user: versions.user,
          model: versions.model,
          settings,
          variant,
          madeAt,
          length: items.length,
          items: part,
        } satisfies StoredText);
      await scripted
        .saveRanking(rankingKey(userId), text(compacted), ttlSeconds, scope, MAX_FILTER_SCOPES, text(compacted.slice(0, HEAD_ITEMS)))
        .catch(unavailable);
      return id;
    },
    async load(userId, scope, id) {
      const texts = await redis.hmget(rankingKey(userId), field('latest', scope), field('previous', scope)).catch(unavailable);
      // The id comes first in the text: the other ranking is never parsed.
      const text = texts.find((t) => t?.startsWith(`{"id":"${id}"`));
      return text ? decode(text) : undefined;
    },
    async hide(userId, eventId, at = Date.now()) {
      await scripted.hideEvent(hiddenKey(userId), eventId, at, HIDDEN_S).catch(unavailable);
    },
    async hidden(userId, now = Date.now()) {
      return new Set(await redis.zrangebyscore(hiddenKey(userId), now - HIDDEN_S * 1000, '+inf').catch(unavailable));
    },
  };
  return cache;
}

/**
 * A ranking as stored: an item is `[eventId, score, ...reasons]`, a reason its code, or
 * `matches_interest:<type>:<value>`; the texts are put back on the way out. A quarter of the size of
 * the items as JSON.
 */
interface StoredText {
  id: string;
  user: string;
  model: string;
  settings?: string;
  variant?: string;
  madeAt: number;
  /** The whole ranking's: a head holds only its first HEAD_ITEMS. */
  length: number;
  items: [string, number, ...string[]][];
}

/** A stored text, with `length` the whole ranking's and `items` what this text holds of it. */
function decode(text: string): Omit<StoredRanking, 'items'> & { length: number; items: RankingItems } {
  const { id, user, model, settings, variant, madeAt, length, items } = JSON.parse(text) as StoredText;
  return {
    id,
    versions: { user, model },
    settings,
    variant,
    madeAt,
    length: length ?? items.length,
    items: { length: items.length, slice: async (start, end) => items.slice(start, end).map(expand) },
  };
}

function compact(item: RankedItem): StoredText['items'][number] {
  return [
    item.eventId,
    item.score,
    ...item.reasons.map((r) => (r.code === 'matches_interest' ? `${r.code}:${r.feature.type}:${r.feature.value}` : r.code)),
  ];
}

function expand([eventId, score, ...reasons]: StoredText['items'][number]): RankedItem {
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

function unavailable(error: unknown): never {
  throw new ServiceUnavailableError('The feed is unavailable; retry shortly', { cause: error });
}
