import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Config } from './config';
import type { Db } from './data/db';
import { authenticate } from './http/auth';
import { errorHandler, routeNotFound } from './http/errors';
import { eventsRouter } from './http/routes/events';
import { interactionsRouter } from './http/routes/interactions';
import type { Producer } from './jobs/producer';
import type { Logger } from './logger';

/** What the HTTP layer needs; built by server.ts (and by tests). */
export interface AppDeps {
  config: Config;
  db: Db;
  producer: Producer;
  logger: Logger;
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
  app.use(routeNotFound);
  app.use(errorHandler(deps.logger));
  return app;
}
