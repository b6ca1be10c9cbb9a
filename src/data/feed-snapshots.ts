import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RankedItem } from '../domain/ranking';
import { ServiceUnavailableError } from '../errors';

/** A ranked feed frozen for paging: later pages come from it, so moving scores never repeat or skip an event. */
export interface FeedSnapshot {
  userId: string;
  items: RankedItem[];
}

export interface FeedSnapshots {
  save(snapshot: FeedSnapshot): Promise<string>;
  load(id: string): Promise<FeedSnapshot | undefined>;
}

/** Snapshots in Redis, expiring after `ttlSeconds` (a cursor older than that is refused). */
export function redisFeedSnapshots(redis: Redis, prefix: string, ttlSeconds = 30 * 60): FeedSnapshots {
  const key = (id: string) => `${prefix}:feed:${id}`;
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
  };
}

function unavailable(cause: unknown): never {
  throw new ServiceUnavailableError('The feed store is unavailable; retry shortly', { cause });
}
