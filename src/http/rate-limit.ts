import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { userStateKey, type RedisClient } from '../data/redis';
import { TooManyRequestsError } from '../errors';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const WINDOW_MS = 60_000;

/**
 * A per-user limit on writes: a fixed one-minute window counted in Redis, so every API process
 * shares it. 0 turns it off. When Redis does not answer, the request goes through: the limit
 * protects the service from one user, and must not refuse writes that do not need Redis (the
 * outbox keeps collections and gig applications working while Redis is away).
 */
export function limitWrites(redis: RedisClient, prefix: string, perMinute: number): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    if (perMinute === 0 || READS.has(req.method) || !req.user) return next();
    const window = Math.floor(Date.now() / WINDOW_MS);
    const key = `${userStateKey(prefix, 'rate', req.user.id)}:${window}`;
    const count = await redis
      .multi()
      .incr(key)
      .pexpire(key, WINDOW_MS + 1000)
      .exec()
      .then(
        (results) => Number(results?.[0]?.[1]),
        () => 0,
      );
    if (count > perMinute) {
      return next(new TooManyRequestsError(Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - Date.now()) / 1000))));
    }
    next();
  };
}
