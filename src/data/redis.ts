import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type { Config } from '../config';
import type { Logger } from '../ops/logger';

/** One Redis server or a Redis Cluster (REDIS_CLUSTER_NODES): the commands the service sends work on both. */
export type RedisClient = Redis | Cluster;

type RedisSettings = Pick<Config, 'redisUrl' | 'redisClusterNodes' | 'redisSentinel'>;

/**
 * A connection to the configured Redis. `failFast`, for request paths: no offline queue, no resend
 * after a reconnect, and a command timeout, so a request learns within its deadline that Redis is
 * away instead of hanging; it reconnects by itself when Redis is back. Otherwise (the worker, whose
 * BullMQ blocking commands must wait): commands wait for a reconnect, for as long as `retryDelayMs`
 * gives a delay rather than null.
 */
export function connectRedis(
  config: RedisSettings,
  options: { failFast?: { commandTimeoutMs: number }; retryDelayMs: (attempt: number) => number | null; autoPipelining?: boolean },
): RedisClient {
  const { failFast, retryDelayMs } = options;
  // Commands issued in one turn of the event loop go out in one write (one per request otherwise).
  const enableAutoPipelining = options.autoPipelining ?? false;
  const perNode = {
    maxRetriesPerRequest: failFast ? 1 : null,
    commandTimeout: failFast?.commandTimeoutMs,
    autoResendUnfulfilledCommands: !failFast,
    connectTimeout: failFast ? 1000 : 10_000,
  };
  if (config.redisClusterNodes) {
    return new Cluster(
      config.redisClusterNodes.map((node) => ({ ...node })),
      { enableOfflineQueue: !failFast, clusterRetryStrategy: retryDelayMs, redisOptions: perNode, enableAutoPipelining },
    );
  }
  const common = { ...perNode, enableOfflineQueue: !failFast, retryStrategy: retryDelayMs, enableAutoPipelining };
  if (config.redisSentinel) {
    // The primary is whichever the sentinels name; a connection that loses it asks them again. A
    // request path's connection also listens for +switch-master, to move at once (the worker's
    // BullMQ connections did not recover from being moved that way in the failover test; they
    // reconnect by themselves when the old primary goes). Password and database come from REDIS_URL.
    const url = new URL(config.redisUrl);
    const redis = new Redis({
      ...common,
      sentinels: config.redisSentinel.nodes.map((node) => ({ ...node })),
      name: config.redisSentinel.name,
      failoverDetector: !!failFast,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      db: Number(url.pathname.slice(1) || 0),
      sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 200, 1000),
    });
    if (failFast) reopenWhenAbandoned(redis);
    return redis;
  }
  return new Redis(config.redisUrl, common);
}

const closing = new WeakSet<RedisClient>();

/** Closes a connection for good: one from connectRedis may otherwise reopen itself (see reopenWhenAbandoned). */
export function closeRedis(redis: RedisClient): void {
  closing.add(redis);
  redis.disconnect();
}

/**
 * ioredis's failover detector ends the connection to move it to the new primary; when
 * +switch-master arrives while the connection is asking a sentinel for the primary (it is then
 * reconnecting after losing the old one, and a busy process makes that window long), that ending
 * aborts the connect itself, and ioredis gives up for good: status 'end', no socket, every command
 * refused. So an 'end' the service did not ask for (closeRedis) opens the connection again.
 */
function reopenWhenAbandoned(redis: Redis): void {
  redis.on('end', () => {
    if (closing.has(redis)) return;
    setTimeout(() => {
      if (!closing.has(redis) && redis.status === 'end') redis.connect().catch(() => undefined);
    }, 100).unref();
  });
}

/** A fail-fast connection (see connectRedis) that logs an outage once every 10 s, not on every reconnect. */
export function createFailFastRedis(
  config: RedisSettings,
  options: { commandTimeoutMs: number; label: string; autoPipelining?: boolean },
  logger: Logger,
): RedisClient {
  const redis = connectRedis(config, {
    failFast: options,
    retryDelayMs: (attempt) => Math.min(attempt * 200, 1000),
    autoPipelining: options.autoPipelining,
  });
  let lastErrorLog = 0;
  redis.on('error', (error: Error) => {
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

/** The queue prefix without its hash tag (see userStateKey). */
const stateKeyBase = (prefix: string) => prefix.replace(/[{}]/g, '');
