import express, { type Express } from 'express';
import type { Config } from './config';
import { createDb, type Db } from './data/db';
import { cachedEventExists } from './data/events';
import { cachedFeedEvents, type FeedEvent } from './feed/candidates';
import { redisRankingCache, type RankingCache } from './feed/ranking-cache';
import { requireAdmin } from './http/admin-auth';
import { authenticate } from './http/auth';
import { rateLimit } from './http/rate-limit';
import { createFailFastRedis, type RedisClient } from './data/redis';
import { requestContext } from './http/request-context';
import { queueDashboard } from './http/dashboard';
import { docsRouter } from './http/openapi';
import { probesRouter } from './health';
import { Metrics } from './metrics';
import { errorHandler, routeNotFound } from './http/errors';
import { collectionsRouter } from './http/routes/collections';
import { eventsRouter } from './http/routes/events';
import { gigsRouter } from './http/routes/gigs';
import { interactionsRouter } from './http/routes/interactions';
import { recommendationsRouter } from './http/routes/recommendations';
import { OutboxRelay } from './jobs/outbox';
import { createProducer, type Producer } from './jobs/producer';
import type { Logger } from './logger';
import { RankingGate } from './feed/ranking-gate';

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
  /** Feed rankings and hidden events in Redis. */
  rankingCache: RankingCache;
  /** Bounds the feed ranking work of this process (FEED_RANKING_CONCURRENCY, FEED_RANKING_QUEUE). */
  rankingGate: RankingGate;
  /** What feed pages show of their events (cached for EVENT_CACHE_TTL_MS). */
  feedEvents(ids: string[], now: Date): Promise<Map<string, FeedEvent>>;
  /** Relays interactions recorded inside transactions (collections, gig applications). */
  outboxRelay: OutboxRelay;
  metrics: Metrics;
  logger: Logger;
}

/** Connects what the API needs; `close` releases it all (shutdown, tests). */
export function connectAppDeps(config: Config, logger: Logger): AppDeps & { close(): Promise<void> } {
  const db = createDb(config, logger);
  const feedDb = config.databaseReadUrl ? createDb({ ...config, databaseUrl: config.databaseReadUrl }, logger) : db;
  const producer = createProducer(config, logger);
  const redis = createFailFastRedis(config, { commandTimeoutMs: config.enqueueTimeoutMs, label: 'state', autoPipelining: true }, logger);
  const metrics = new Metrics('web');
  const outboxRelay = new OutboxRelay(db, producer, logger, { onFailure: () => metrics.outboxRelayFailures.inc() });
  metrics.trackQueue(producer.queue);
  metrics.trackOutbox(db);
  return {
    config,
    db,
    feedDb,
    producer,
    redis,
    eventExists: cachedEventExists(db, config.eventCacheTtlMs),
    // A fail-fast connection: a feed request with Redis away gets a 503 at once.
    rankingCache: redisRankingCache(redis, config.queuePrefix),
    rankingGate: new RankingGate(config.feedRanking, (outcome) => metrics.feedRankings.inc({ outcome })),
    feedEvents: cachedFeedEvents(feedDb, config.eventCacheTtlMs),
    outboxRelay,
    metrics,
    logger,
    async close() {
      await outboxRelay.stop();
      await producer.close();
      redis.disconnect();
      await db.destroy();
      if (feedDb !== db) await feedDb.destroy();
    },
  };
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Responses are answers to one request each, never cached: no ETag (hashing every body cost CPU).
  app.set('etag', false);

  app.use(
    requestContext({
      logger: deps.logger,
      metrics: deps.metrics,
      budgetMs: deps.config.enqueueTimeoutMs,
      draining: () => app.locals.draining === true,
    }),
  );

  app.use(probesRouter(deps, () => app.locals.draining === true));
  app.use(docsRouter());

  // The operations surface: HTTP Basic (or an admin token), and absent when no credentials are set.
  const admin = requireAdmin(deps.config);
  app.get('/metrics', admin, deps.metrics.handler());
  app.use('/admin/queues', admin, queueDashboard(deps.producer.queue));

  // Everything below requires a valid token, so unknown paths do not reveal what exists.
  app.use(authenticate(deps.config));
  app.use(rateLimit(deps.redis, deps.config.queuePrefix, deps.config.rateLimits));
  app.use(interactionsRouter(deps));
  app.use(eventsRouter(deps));
  app.use(recommendationsRouter(deps));
  app.use(collectionsRouter(deps));
  app.use(gigsRouter(deps));
  app.use(routeNotFound);
  app.use(errorHandler(deps.logger));
  return app;
}
