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
    // The primary is whichever the sentinels name; a connection that loses it asks them again, and
    // checks the role of what it reaches. Password and database come from REDIS_URL.
    const url = new URL(config.redisUrl);
    const redis = new Redis({
      ...common,
      sentinels: config.redisSentinel.nodes.map((node) => ({ ...node })),
      name: config.redisSentinel.name,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      db: Number(url.pathname.slice(1) || 0),
      sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 200, 1000),
    });
    // The worker's BullMQ connections are not moved (they did not recover from being moved in the
    // failover test): they reconnect by themselves when the old primary goes.
    if (failFast) followSwitches(redis, config.redisSentinel);
    return redis;
  }
  return new Redis(config.redisUrl, common);
}

const cleanups = new WeakMap<RedisClient, () => void>();

/** Closes a connection for good, and what connectRedis opened beside it. */
export function closeRedis(redis: RedisClient): void {
  cleanups.get(redis)?.();
  redis.disconnect();
}

/**
 * Moves a request path's connection to the new primary as soon as a sentinel announces the switch
 * (+switch-master), not only once the old primary's socket fails: a demoted primary that stays up
 * refuses every write (READONLY). A connection already on the new primary is left alone. The
 * sentinels announce the switch once the other replicas are reconfigured, a second or more after
 * the promotion, and by then a connection that lost the old primary has usually found the new one
 * by itself: dropping it again (ioredis's own failover detector does) refused requests for nothing,
 * and /readyz said unavailable. Nor is a connection that is not ready touched: its reconnect asks
 * the sentinels already, and ending it mid-connect made ioredis give up on it for good.
 */
function followSwitches(redis: Redis, sentinel: NonNullable<Config['redisSentinel']>): void {
  const listeners = sentinel.nodes.map((node) => {
    const listener = new Redis({ ...node, retryStrategy: (attempt) => Math.min(attempt * 200, 1000), maxRetriesPerRequest: null });
    listener.on('error', () => undefined); // a sentinel away is the connection's own error to report
    listener.subscribe(SWITCH_CHANNEL).catch(() => undefined);
    listener.on('message', (channel: string, message: string) => {
      // "<name> <old host> <old port> <new host> <new port>"
      const [name, , , host, port] = message.split(' ');
      if (channel !== SWITCH_CHANNEL || name !== sentinel.name || redis.status !== 'ready') return;
      const { remoteAddress, remotePort } = redis.stream;
      if (remotePort === Number(port) && remoteAddress?.replace(/^::ffff:/, '') === host) return;
      redis.disconnect(true);
    });
    return listener;
  });
  cleanups.set(redis, () => listeners.forEach((listener) => listener.disconnect()));
}

const SWITCH_CHANNEL = '+switch-master';

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
