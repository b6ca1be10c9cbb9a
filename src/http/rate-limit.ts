import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Config } from '../config';
import { userStateKey, type RedisClient } from '../data/redis';
import { settleBy } from '../deadline';
import { TooManyRequestsError } from '../errors';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const WINDOW_MS = 60_000;
/** Longest the check waits on Redis: a stalled Redis must not take the request's whole deadline. */
const CHECK_MS = 250;

/** Counts `n` in a window, in one round trip: the count and the window's expiry together. */
const COUNT = `local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

type Counting = RedisClient & { countRequests(key: string, ttlMs: number, n: number): Promise<number> };

export type LimitKind = 'reads' | 'writes';

/** Routes that count their items rather than themselves (a batch of 500 is 500 writes). */
export const ITEM_COUNTED_ROUTES = new Set(['POST /interactions/batch']);

/**
 * Per-user limits on reads and on writes: fixed one-minute windows counted in Redis, so every API
 * process shares them; 0 turns one off. When Redis does not answer within CHECK_MS (or the request's
 * deadline, if sooner), the work goes through: the limits protect the service from one user, and
 * must not refuse work that does not need Redis (the outbox keeps collections and gig applications
 * working while Redis is away).
 */
export class RateLimiter {
  private readonly counting: Counting;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    private readonly limits: Config['rateLimits'],
  ) {
    redis.defineCommand('countRequests', { numberOfKeys: 1, lua: COUNT });
    this.counting = redis as Counting;
  }

  /**
   * Takes `n` from the user's allowance of this minute: how many of them it granted (the first
   * ones), and when the window ends, in whole seconds (for Retry-After).
   */
  async take(userId: string, kind: LimitKind, n: number, deadline: number): Promise<{ granted: number; retryAfterS: number }> {
    const perMinute = kind === 'reads' ? this.limits.readsPerMinute : this.limits.writesPerMinute;
    const window = Math.floor(Date.now() / WINDOW_MS);
    const retryAfterS = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - Date.now()) / 1000));
    if (perMinute === 0 || n === 0) return { granted: n, retryAfterS };
    const key = `${userStateKey(this.prefix, kind === 'reads' ? 'reads' : 'rate', userId)}:${window}`;
    const count = await settleBy(this.counting.countRequests(key, WINDOW_MS + 1000, n), Math.min(deadline, Date.now() + CHECK_MS), 0);
    if (count === 0) return { granted: n, retryAfterS }; // Redis did not answer in time
    return { granted: Math.max(0, Math.min(n, perMinute - (count - n))), retryAfterS };
  }

  /** Every request counts one, but those of ITEM_COUNTED_ROUTES (they call `take` themselves). */
  middleware(): RequestHandler {
    return async (req: Request, _res: Response, next: NextFunction) => {
      if (!req.user || ITEM_COUNTED_ROUTES.has(`${req.method} ${req.path}`)) return next();
      const kind: LimitKind = READS.has(req.method) ? 'reads' : 'writes';
      const { granted, retryAfterS } = await this.take(req.user.id, kind, 1, req.deadline);
      next(granted === 1 ? undefined : new TooManyRequestsError(retryAfterS, kind));
    };
  }
}
