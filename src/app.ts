import type { RequestListener } from 'node:http';
import express, { Router, type Express, type RequestHandler } from 'express';
import type { Config } from './config';
import { createDb } from './data/db';
import { cachedEventExists, type EventExists } from './data/events';
import { cachedFeedEvents } from './feed/candidates';
import { ImpressionRecorder } from './feed/impressions';
import { CURSOR_LIFETIME_S, redisRankingCache } from './feed/ranking-cache';
import { requireAdmin } from './http/admin-auth';
import { apiSteps, type Step } from './http/pipeline';
import { RateLimiter } from './http/rate-limit';
import { closeRedis, createFailFastRedis } from './data/redis';
import { requestContext } from './http/request-context';
import { cors } from './http/cors';
import { queueDashboard } from './http/dashboard';
import { docsRouter } from './http/openapi';
import { probesRouter } from './ops/health';
import { Metrics } from './ops/metrics';
import { errorResponder, routeNotFound } from './http/errors';
import { plainIngestPath } from './http/ingest-path';
import { collectionsRouter } from './http/routes/collections';
import { eventsRouter } from './http/routes/events';
import { feedStatsRouter } from './http/routes/feed-stats';
import { gigsRouter } from './http/routes/gigs';
import { interactionsRouter } from './http/routes/interactions';
import { recommendationsRouter } from './http/routes/recommendations';
import { OutboxRelay } from './jobs/outbox';
import { createProducer } from './jobs/producer';
import type { Logger } from './ops/logger';
import { RankingGate } from './feed/ranking-gate';
import type { AppDeps } from './http/deps';

export type { AppDeps } from './http/deps';

/** Connects what the API needs; `close` releases it all (shutdown, tests). */
export function connectAppDeps(config: Config, logger: Logger): AppDeps & { eventExists: EventExists; close(): Promise<void> } {
  const db = createDb(config, logger);
  const feedDb = config.databaseReadUrl ? createDb({ ...config, databaseUrl: config.databaseReadUrl }, logger) : db;
  const producer = createProducer(config, logger);
  const redis = createFailFastRedis(config, { commandTimeoutMs: config.enqueueTimeoutMs, label: 'state', autoPipelining: true }, logger);
  const metrics = new Metrics('web');
  const outboxRelay = new OutboxRelay(db, producer, logger, { onFailure: () => metrics.outboxRelayFailures.inc() });
  const impressions = new ImpressionRecorder(producer, metrics);
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
    rankingCache: redisRankingCache(redis, config.queuePrefix, {
      // A first page served from a ranking as old as FEED_RANKING_MAX_AGE_S still gets its 30 minutes to page.
      ttlSeconds: CURSOR_LIFETIME_S + config.feedRankingMaxAgeMs / 1000,
    }),
    rateLimiter: new RateLimiter(redis, config.queuePrefix, config.rateLimits),
    rankingGate: new RankingGate(config.feedRanking, (outcome) => metrics.feedRankings.inc({ outcome })),
    feedEvents: cachedFeedEvents(feedDb, config.eventCacheTtlMs),
    outboxRelay,
    impressions,
    metrics,
    logger,
    async close() {
      await outboxRelay.stop();
      await impressions.flush();
      await producer.close();
      closeRedis(redis);
      await db.destroy();
      if (feedDb !== db) await feedDb.destroy();
    },
  };
}

/** The paths of the routes mounted before authentication (probes, docs, metrics, dashboard). */
const OPEN_PATHS = /^\/(healthz|readyz|openapi\.json|docs|metrics|admin)(\/|$)/i;

/**
 * The API: the Express app, and the listener a server runs, which hands the plain form of
 * POST /interactions to its own path (see plainIngestPath) and everything else to the app. Set
 * `app.locals.draining` once the process is stopping.
 */
export function createApi(
  deps: AppDeps,
  options: { steps?: (defaults: Step[]) => Step[] } = {},
): { app: Express; listener: RequestListener } {
  // One of each for both paths: one outage log per outage, one list of steps (and so one memory of
  // verified tokens). `options.steps` changes the list, for both paths at once.
  const defaults = apiSteps(deps);
  const shared = { errors: errorResponder(deps.logger), steps: options.steps?.(defaults) ?? defaults };
  const app = createApp(deps, shared);
  const ingest = plainIngestPath(deps, { ...shared, draining: () => app.locals.draining === true });
  const listener: RequestListener = (req, res) => (ingest.takes(req) ? ingest.serve(req, res) : app(req, res));
  return { app, listener };
}

function createApp(deps: AppDeps, { errors, steps }: { errors: ReturnType<typeof errorResponder>; steps: readonly Step[] }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.trustProxy); // req.ip: the client's address as the trusted proxies report it
  // Responses are answers to one request each, never cached: no ETag (hashing every body cost CPU).
  app.set('etag', false);

  app.use(
    requestContext({
      logger: deps.logger,
      metrics: deps.metrics,
      budgetMs: deps.config.enqueueTimeoutMs,
      bodyTimeoutMs: deps.config.bodyTimeoutMs,
      draining: () => app.locals.draining === true,
    }),
  );

  app.use(cors(deps.config.corsOrigins));

  // Probes, docs and the operations surface (HTTP Basic or an admin token, and absent when no
  // credentials are set), behind one check of the path: the API's requests pass one test here
  // rather than the match of every route of these routers.
  const open = Router();
  open.use(probesRouter(deps, () => app.locals.draining === true));
  open.use(docsRouter());
  const admin = requireAdmin(deps.config);
  open.use('/metrics', admin); // every method, so that not even OPTIONS tells the route is there
  open.get('/metrics', deps.metrics.handler());
  open.use('/admin/queues', admin, queueDashboard(deps.producer.queue));
  open.use('/admin/feed', admin);
  open.use(feedStatsRouter(deps));
  const openPaths: RequestHandler = (req, res, next) => (OPEN_PATHS.test(req.path) ? open(req, res, next) : next());
  app.use(Object.assign(openPaths, { stack: open.stack })); // its routes, for whoever lists the app's

  // Everything below takes the API's steps (a valid token first, so unknown paths do not reveal
  // what exists): the one list the plain ingest path runs too. Add a check there, not here.
  for (const step of steps) app.use(step);
  app.use(interactionsRouter(deps));
  app.use(eventsRouter(deps));
  app.use(recommendationsRouter(deps));
  app.use(collectionsRouter(deps));
  app.use(gigsRouter(deps));
  app.use(routeNotFound);
  app.use(errors.handler);
  return app;
}
