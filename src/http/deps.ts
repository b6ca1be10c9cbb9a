import type { ImpressionRecorder } from '../feed/impressions';
import type { Config } from '../config';
import type { Db } from '../data/db';
import type { RedisClient } from '../data/redis';
import type { FeedEvents } from '../feed/candidates';
import type { RankingCache } from '../feed/ranking-cache';
import type { RankingGate } from '../feed/ranking-gate';
import type { OutboxRelay } from '../jobs/outbox';
import type { Producer } from '../jobs/producer';
import type { Logger } from '../ops/logger';
import type { Metrics } from '../ops/metrics';
import type { RateLimiter } from './rate-limit';

/** What the HTTP layer needs; built by server.ts (and by tests). */
export interface AppDeps {
  config: Config;
  db: Db;
  /** Where the feed reads the model and its events: the replica of DATABASE_READ_URL, or `db`. */
  feedDb: Db;
  producer: Producer;
  /**
   * The service's own state in Redis (rate limits, feed rankings), on a connection of its own so
   * that it never waits behind the queue's commands; fail-fast like the producer's.
   */
  redis: RedisClient;
  /** Whether an event exists (cached for EVENT_CACHE_TTL_MS). */
  eventExists(id: string): Promise<boolean>;
  /** Per-user limits on reads and writes, counted in `redis`. */
  rateLimiter: RateLimiter;
  /** Feed rankings and hidden events in Redis. */
  rankingCache: RankingCache;
  /** Bounds the feed ranking work of this process (FEED_RANKING_CONCURRENCY, FEED_RANKING_QUEUE). */
  rankingGate: RankingGate;
  /** What feed pages show of their events (cached for EVENT_CACHE_TTL_MS). */
  feedEvents: FeedEvents;
  /** Records the feed pages served (feed_impressions), off the request path. */
  impressions: ImpressionRecorder;
  /** Relays interactions recorded inside transactions (collections, gig applications). */
  outboxRelay: OutboxRelay;
  metrics: Metrics;
  logger: Logger;
}
