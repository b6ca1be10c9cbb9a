import type { Server } from 'node:http';
import express from 'express';
import type { Config } from '../src/config';
import type { Db } from '../src/data/db';
import { probesRouter } from '../src/health';
import { requireAdmin } from '../src/http/admin-auth';
import { errorHandler, routeNotFound } from '../src/http/errors';
import type { Producer } from '../src/jobs/producer';
import type { Logger } from '../src/logger';
import type { Metrics } from '../src/metrics';

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
