import type { Server } from 'node:http';
import express from 'express';
import type { Config } from '../config';
import type { Db } from '../data/db';
import { probesRouter } from './health';
import { requireAdmin } from '../http/admin-auth';
import { errorHandler, routeNotFound } from '../http/errors';
import type { Producer } from '../jobs/producer';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** The worker's own /healthz, /readyz and /metrics (admin credentials), on WORKER_PORT. */
export function startHealthServer(deps: { config: Config; db: Db; producer: Producer; metrics: Metrics; logger: Logger }): Server {
  const app = express();
  app.disable('x-powered-by');
  app.use(probesRouter(deps));
  app.get('/metrics', requireAdmin(deps.config), deps.metrics.handler());
  app.use(routeNotFound);
  app.use(errorHandler(deps.logger));
  return app.listen(deps.config.workerPort, () =>
    deps.logger.info({ port: deps.config.workerPort }, 'worker health and metrics listening'),
  );
}
