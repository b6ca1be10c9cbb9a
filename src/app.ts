import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Config } from './config';
import { createDb, type Db } from './data/db';
import { redisFeedSnapshots, type FeedSnapshots } from './data/feed-snapshots';
import { createFailFastRedis } from './data/redis';
import { authenticate } from './http/auth';
import { errorHandler, routeNotFound } from './http/errors';
import { collectionsRouter } from './http/routes/collections';
import { eventsRouter } from './http/routes/events';
import { gigsRouter } from './http/routes/gigs';
import { interactionsRouter } from './http/routes/interactions';
import { recommendationsRouter } from './http/routes/recommendations';
import { OutboxRelay } from './jobs/outbox';
import { createProducer, type Producer } from './jobs/producer';
import type { Logger } from './logger';

/** What the HTTP layer needs; built by server.ts (and by tests). */
export interface AppDeps {
  config: Config;
  db: Db;
  producer: Producer;
  feedSnapshots: FeedSnapshots;
  /** Relays interactions recorded inside transactions (collections, gig applications). */
  outboxRelay: OutboxRelay;
  logger: Logger;
}

/** Connects what the API needs; `close` releases it all (shutdown, tests). */
export function connectAppDeps(config: Config, logger: Logger): AppDeps & { close(): Promise<void> } {
  const db = createDb(config, logger);
  const producer = createProducer(config, logger);
  const feedRedis = createFailFastRedis(config.redisUrl, { commandTimeoutMs: config.enqueueTimeoutMs, label: 'feed' }, logger);
  const outboxRelay = new OutboxRelay(db, producer, logger);
  return {
    config,
    db,
    producer,
    feedSnapshots: redisFeedSnapshots(feedRedis, config.queuePrefix),
    outboxRelay,
    logger,
    async close() {
      await outboxRelay.stop();
      await producer.close();
      feedRedis.disconnect();
      await db.destroy();
    },
  };
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.use(
    pinoHttp({
      logger: deps.logger,
      // Honour a caller's request id (when it is a sane token) so one id follows a request across services.
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    }),
  );

  // Probes for orchestrators: no credentials, no data.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const [database, redis] = await Promise.all([
      deps.db.raw('select 1').then(
        () => true,
        () => false,
      ),
      deps.producer.ping(),
    ]);
    res.status(database && redis ? 200 : 503).json({ status: database && redis ? 'ready' : 'unavailable', database, redis });
  });

  // Everything below requires a valid token, so unknown paths do not reveal what exists.
  app.use(authenticate(deps.config));
  app.use(interactionsRouter(deps));
  app.use(eventsRouter(deps));
  app.use(recommendationsRouter(deps));
  app.use(collectionsRouter(deps));
  app.use(gigsRouter(deps));
  app.use(routeNotFound);
  app.use(errorHandler(deps.logger));
  return app;
}
