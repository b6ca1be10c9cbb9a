import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RankedItem } from '../domain/ranking';
import { ServiceUnavailableError } from '../errors';
import { stateKeyBase, userStateKey } from './redis';

/** A ranked feed frozen for paging: later pages come from it, so moving scores never repeat or skip an event. */
export interface FeedSnapshot {
  userId: string;
  items: RankedItem[];
}

/** The feed's short-lived state in Redis: frozen rankings for paging, and events to hide at once. */
export interface FeedStore {
  save(snapshot: FeedSnapshot): Promise<string>;
  load(id: string): Promise<FeedSnapshot | undefined>;
  /**
   * Hides an event from the user's feed from now on (a DISMISS or an APPLY accepted), without
   * waiting for the worker, however far behind it is. Kept a day: by then the model knows.
   */
  hide(userId: string, eventId: string): Promise<void>;
  hidden(userId: string): Promise<Set<string>>;
}

/** Snapshots in Redis, expiring after `ttlSeconds` (a cursor older than that is refused). */
export function redisFeedStore(redis: Redis, prefix: string, ttlSeconds = 30 * 60): FeedStore {
  const key = (id: string) => `${stateKeyBase(prefix)}:feed:${id}`;
  const hiddenKey = (userId: string) => userStateKey(prefix, 'hidden', userId);
  return {
    async save(snapshot) {
      const id = randomBytes(12).toString('base64url');
      await redis.set(key(id), JSON.stringify(snapshot), 'EX', ttlSeconds).catch(unavailable);
      return id;
    },
    async load(id) {
      const text = await redis.get(key(id)).catch(unavailable);
      return text ? (JSON.parse(text) as FeedSnapshot) : undefined;
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

function unavailable(cause: unknown): never {
  throw new ServiceUnavailableError('The feed store is unavailable; retry shortly', { cause });
}
