import { Router } from 'express';
import type { Db } from './data/db';
import { migrationSettings } from './data/db';
import type { Producer } from './jobs/producer';
import type { Logger } from './logger';

export interface Readiness {
  ready: boolean;
  database: boolean;
  redis: boolean;
  migrations: boolean;
}

let migrationsCurrent = false;

/** PostgreSQL and Redis answer, and no migration is pending (checked until it holds once). */
export async function checkReadiness(deps: { db: Db; producer: Pick<Producer, 'ping'> }): Promise<Readiness> {
  const [database, redis] = await Promise.all([
    deps.db.raw('select 1').then(
      () => true,
      () => false,
    ),
    deps.producer.ping(),
  ]);
  if (database && !migrationsCurrent) {
    const [, pending] = (await deps.db.migrate.list(migrationSettings).catch(() => [[], ['unknown']])) as [unknown[], unknown[]];
    migrationsCurrent = pending.length === 0;
  }
  const migrations = database && migrationsCurrent;
  return { ready: database && redis && migrations, database, redis, migrations };
}

/**
 * GET /healthz (the process runs) and GET /readyz (its dependencies answer), without credentials.
 * `draining` turns readiness off during a graceful shutdown, so the load balancer moves away.
 */
export function probesRouter(deps: { db: Db; producer: Pick<Producer, 'ping'> }, draining: () => boolean = () => false): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (draining()) return void res.status(503).json({ status: 'draining' });
    const { ready, ...parts } = await checkReadiness(deps);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', ...parts });
  });
  return router;
}

/**
 * Warns when Redis may drop queue keys under memory pressure: the queue holds the only copy of an
 * accepted interaction until a worker writes it, so anything but `noeviction` can lose data.
 */
export async function warnAboutRedisPolicy(producer: Pick<Producer, 'connection'>, logger: Logger): Promise<void> {
  try {
    const [, policy] = (await producer.connection.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy && policy !== 'noeviction') {
      logger.error({ policy }, `Redis maxmemory-policy is "${policy}": queued interactions may be evicted and lost; set it to noeviction`);
    }
  } catch (error) {
    // Managed Redis services often refuse CONFIG; say so rather than guess.
    logger.warn({ err: (error as Error).message }, 'could not read Redis maxmemory-policy; make sure it is noeviction');
  }
}
