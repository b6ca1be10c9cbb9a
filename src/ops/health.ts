import { Router } from 'express';
import type { Db } from '../data/db';
import { migrationSettings } from '../data/db';
import type { Producer } from '../jobs/producer';
import type { Logger } from './logger';

export interface Readiness {
  ready: boolean;
  database: boolean;
  redis: boolean;
  migrations: boolean;
}

let migrationsCurrent = false;

/**
 * PostgreSQL answers, Redis takes writes (a Redis that is full under noeviction answers pings and
 * refuses every job), and no migration is pending (checked until it holds once).
 */
export async function checkReadiness(deps: { db: Db; producer: Pick<Producer, 'writable'> }): Promise<Readiness> {
  const [database, redis] = await Promise.all([
    deps.db.raw('select 1').then(
      () => true,
      () => false,
    ),
    deps.producer.writable(),
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
export function probesRouter(deps: { db: Db; producer: Pick<Producer, 'writable'> }, draining: () => boolean = () => false): Router {
  const router = Router();
  // Checked at most once a second, whoever asks how often: a probe must not be a way to load the
  // database and Redis (64 anonymous connections made 2,234 checks a second of it).
  let last: { at: number; readiness: Promise<Readiness> } | undefined;
  const readiness = () => {
    if (!last || Date.now() - last.at >= 1000) last = { at: Date.now(), readiness: checkReadiness(deps) };
    return last.readiness;
  };
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (draining()) return void res.status(503).json({ status: 'draining' });
    const { ready, ...parts } = await readiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', ...parts });
  });
  return router;
}

/**
 * Warns when Redis settings can lose queued jobs: the queue holds the only copy of an accepted
 * interaction until a worker writes it. An eviction policy other than `noeviction` drops keys under
 * memory pressure; without AOF a Redis restart forgets the queue; with `appendfsync` other than
 * `always` a power cut forgets what was acknowledged since the last fsync (about a second of it).
 */
export async function warnAboutRedisPolicy(producer: Pick<Producer, 'connection'>, logger: Logger): Promise<void> {
  const setting = async (name: string) => ((await producer.connection.config('GET', name)) as string[])[1];
  try {
    const [policy, appendonly, appendfsync] = await Promise.all([
      setting('maxmemory-policy'),
      setting('appendonly'),
      setting('appendfsync'),
    ]);
    if (policy && policy !== 'noeviction') {
      logger.error({ policy }, `Redis maxmemory-policy is "${policy}": queued interactions may be evicted and lost; set it to noeviction`);
    }
    if (appendonly === 'no') {
      logger.warn(
        { appendonly },
        'Redis appendonly is off: a Redis restart loses the interactions still queued; set appendonly yes and appendfsync always',
      );
    } else if (appendfsync && appendfsync !== 'always') {
      logger.warn(
        { appendfsync },
        `Redis appendfsync is "${appendfsync}": a power cut loses the interactions accepted since Redis last synced its file (about a second); set appendfsync always`,
      );
    }
  } catch (error) {
    // Managed Redis services often refuse CONFIG; say so rather than guess.
    logger.warn(
      { err: (error as Error).message },
      'could not read the Redis settings; make sure maxmemory-policy is noeviction and appendfsync always',
    );
  }
}

/**
 * Warns when DATABASE_READ_URL is not a streaming replica: the feed would read it, but never find
 * it caught up (it replays nothing), so no ranking would be made ready for reuse.
 */
export async function warnIfNotReplica(feedDb: Db, logger: Logger): Promise<void> {
  const { rows } = await feedDb
    .raw<{ rows: { replica: boolean }[] }>('select pg_is_in_recovery() as replica')
    .catch(() => ({ rows: [] as { replica: boolean }[] }));
  if (rows[0]?.replica === false) {
    logger.warn(
      'DATABASE_READ_URL is not a streaming replica: every first page will be ranked on request; point it at a replica, or unset it',
    );
  }
}
