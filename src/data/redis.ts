import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../logger';

/**
 * A Redis connection for request paths: no offline queue, no resend after a reconnect, and a
 * command timeout, so a request learns within its deadline that Redis is away instead of hanging.
 * It reconnects by itself when Redis is back.
 */
export function createFailFastRedis(url: string, options: { commandTimeoutMs: number; label: string }, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 1000),
  });
  let lastErrorLog = 0;
  redis.on('error', (error) => {
    // ioredis reports every failed reconnect; one line every 10 s is enough to see an outage.
    if (Date.now() - lastErrorLog > 10_000) {
      lastErrorLog = Date.now();
      logger.warn({ err: error.message }, `redis connection error (${options.label})`);
    }
  });
  return redis;
}

/**
 * A key of the service's own per-user state (feed, rate limit), outside the queue: named after the
 * queue prefix without its hash tag, so that on a Redis Cluster these keys spread over every slot
 * while the queue's keys share one ("{interactions}"). The user id is hashed: any string is a
 * safe, bounded key part.
 */
export function userStateKey(prefix: string, kind: string, userId: string): string {
  return `${stateKeyBase(prefix)}:${kind}:${createHash('sha256').update(userId).digest('base64url')}`;
}

/** A SCAN pattern matching every user's key of that kind (the prefix admits no glob characters). */
export function userStateKeyPattern(prefix: string, kind: string): string {
  return `${stateKeyBase(prefix)}:${kind}:*`;
}

/** The queue prefix without its hash tag (see userStateKey). */
const stateKeyBase = (prefix: string) => prefix.replace(/[{}]/g, '');
