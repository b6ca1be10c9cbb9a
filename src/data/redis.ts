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
