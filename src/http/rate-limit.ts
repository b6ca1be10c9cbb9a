import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Config } from '../config';
import { userStateKey, type RedisClient } from '../data/redis';
import { settleBy } from '../deadline';
import { TooManyRequestsError } from '../errors';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const WINDOW_MS = 60_000;
/** Longest the check waits on Redis: a stalled Redis must not take the request's whole deadline. */
const CHECK_MS = 250;

/** Counts one request in its window, in one round trip: the count and the window's expiry together. */
const COUNT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

type Counting = RedisClient & { countRequest(key: string, ttlMs: number): Promise<number> };

/**
 * Per-user limits on reads and on writes: fixed one-minute windows counted in Redis, so every API
 * process shares them; 0 turns one off. When Redis does not answer within CHECK_MS (or the request's
 * deadline, if sooner), the request goes through: the limits protect the service from one user,
 * and must not refuse work that does not need Redis (the outbox keeps collections and gig
 * applications working while Redis is away).
 */
export function rateLimit(redis: RedisClient, prefix: string, limits: Config['rateLimits']): RequestHandler {
  redis.defineCommand('countRequest', { numberOfKeys: 1, lua: COUNT });
  const counting = redis as Counting;
  return async (req: Request, _res: Response, next: NextFunction) => {
    const read = READS.has(req.method);
    const perMinute = read ? limits.readsPerMinute : limits.writesPerMinute;
    if (perMinute === 0 || !req.user) return next();
    const window = Math.floor(Date.now() / WINDOW_MS);
    const key = `${userStateKey(prefix, read ? 'reads' : 'rate', req.user.id)}:${window}`;
    const count = await settleBy(counting.countRequest(key, WINDOW_MS + 1000), Math.min(req.deadline, Date.now() + CHECK_MS), 0);
    if (count > perMinute) {
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - Date.now()) / 1000));
      return next(new TooManyRequestsError(retryAfter, read ? 'reads' : 'writes'));
    }
    next();
  };
}
