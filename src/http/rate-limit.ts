import type { Step } from './pipeline';
import type { Config } from '../config';
import { userStateKey, type RedisClient } from '../data/redis';
import { settleBy } from '../ops/deadline';
import { TooManyRequestsError } from '../errors';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const WINDOW_MS = 60_000;
/** Longest the check waits on Redis: a stalled Redis must not take the request's whole deadline. */
const CHECK_MS = 250;

/**
 * Counts in windows, for several keys in one round trip: each key's count (INCRBY its amount) and,
 * for a window's first count, its expiry. KEYS: the windows; ARGV: the expiry (ms), then each key's amount.
 */
const COUNT = `local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCRBY', key, ARGV[i + 1])
  if n == tonumber(ARGV[i + 1]) then redis.call('PEXPIRE', key, ARGV[1]) end
  counts[i] = n
end
return counts`;

type Counting = RedisClient & { countRequests(...args: (string | number)[]): Promise<number[]> };

export type LimitKind = 'reads' | 'writes';

/** Most windows counted in one script call. */
const KEYS_PER_CALL = 1000;

interface Turn {
  keys: string[];
  amounts: number[];
  /** When its callers stop waiting for Redis (CHECK_MS after its first). */
  until: number;
  counts: Promise<number[] | undefined>;
}

/**
 * Per-user limits on reads and on writes: fixed one-minute windows counted in Redis, so every API
 * process shares them; 0 turns one off. When Redis does not answer within CHECK_MS (or the request's
 * deadline, if sooner), the work goes through: the limits protect the service from one user, and
 * must not refuse work that does not need Redis (the outbox keeps collections and gig applications
 * working while Redis is away).
 *
 * The counts of the requests read in one turn of the event loop go to Redis together, in one script
 * call: a call per request (its command, its timer, its reply) would be a large share of the API's
 * CPU under load. On a Redis Cluster the windows of different users live in different slots, so there each
 * call counts one.
 */
export class RateLimiter {
  private readonly counting: Counting;
  private readonly keysPerCall: number;
  private turn: Turn | undefined;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    private readonly limits: Config['rateLimits'],
  ) {
    redis.defineCommand('countRequests', { lua: COUNT });
    this.counting = redis as Counting;
    this.keysPerCall = 'isCluster' in redis && redis.isCluster ? 1 : KEYS_PER_CALL;
  }

  /**
   * Takes `n` from the user's allowance of this minute: how many of them it granted (the first
   * ones), and when the window ends, in whole seconds (for Retry-After).
   */
  async take(userId: string, kind: LimitKind, n: number, deadline: number): Promise<{ granted: number; retryAfterS: number }> {
    const perMinute = kind === 'reads' ? this.limits.readsPerMinute : this.limits.writesPerMinute;
    const now = Date.now();
    const window = Math.floor(now / WINDOW_MS);
    const retryAfterS = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
    if (perMinute === 0 || n === 0) return { granted: n, retryAfterS };
    const key = `${userStateKey(this.prefix, kind === 'reads' ? 'reads' : 'rate', userId)}:${window}`;
    const count = await this.count(key, n, Math.min(deadline, now + CHECK_MS));
    if (count === undefined) return { granted: n, retryAfterS }; // Redis did not answer in time
    return { granted: Math.max(0, Math.min(n, perMinute - (count - n))), retryAfterS };
  }

  /**
   * Adds `n` to the window `key` with the others of this turn: its count after that, or undefined
   * when Redis did not answer by `until`. The turn waits CHECK_MS from its start; a caller with less
   * time stops waiting on its own, so that one late request does not cut the others' wait short.
   */
  private count(key: string, n: number, until: number): Promise<number | undefined> {
    let turn = this.turn;
    if (!turn || turn.keys.length >= this.keysPerCall) {
      const keys: string[] = [];
      const amounts: number[] = [];
      const created: Turn = {
        keys,
        amounts,
        until: Date.now() + CHECK_MS,
        counts: new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
          if (this.turn === created) this.turn = undefined;
          const counted = this.counting.countRequests(keys.length, ...keys, WINDOW_MS + 1000, ...amounts);
          return settleBy<number[] | undefined>(counted, created.until, undefined);
        }),
      };
      this.turn = turn = created;
    }
    const index = turn.keys.push(key) - 1;
    turn.amounts.push(n);
    const counted = turn.counts.then((counts) => counts?.[index]);
    return until < turn.until ? settleBy(counted, until, undefined) : counted;
  }

  /** Counts one request of `userId`; throws TooManyRequestsError (429) when it is over its limit. */
  async admit(userId: string, kind: LimitKind, deadline: number): Promise<void> {
    const { granted, retryAfterS } = await this.take(userId, kind, 1, deadline);
    if (granted !== 1) throw new TooManyRequestsError(retryAfterS, kind);
  }

  /**
   * The step (src/http/pipeline.ts) that counts one request of its user, before its body is read:
   * a user past the limit cannot make the service read and parse anything. A batch counts its
   * items past the first once it has read them.
   */
  readonly step: Step = (req, _res, next) => {
    if (!req.user) return next();
    this.admit(req.user.id, READS.has(req.method ?? 'GET') ? 'reads' : 'writes', req.deadline).then(() => next(), next);
  };
}
