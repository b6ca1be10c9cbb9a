import { Redis } from 'ioredis';
import { Client } from 'pg';

const PG_HINT =
  'Start it (Debian/Ubuntu: pg_ctlcluster <version> main start; macOS: brew services start postgresql),\n  or point DATABASE_URL at a running server, or run `docker compose up -d` if you have Docker.';
const REDIS_HINT =
  'Start it (redis-server --daemonize yes), or point REDIS_URL at a running server,\n  or run `docker compose up -d` if you have Docker.';

/** Returns a readable message when PostgreSQL does not answer, else undefined. */
export async function checkPostgres(databaseUrl: string): Promise<string | undefined> {
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = '/postgres';
  const pg = new Client({ connectionString: adminUrl.toString(), connectionTimeoutMillis: 3000 });
  try {
    await pg.connect();
    await pg.query('select 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL is not reachable at ${redact(databaseUrl)} (${describe(error)}).\n  ${PG_HINT}`;
  } finally {
    await pg.end().catch(() => undefined);
  }
}

/** Returns a readable message when Redis does not answer, else undefined. */
export async function checkRedis(redisUrl: string): Promise<string | undefined> {
  const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: unknown;
  redis.on('error', (error) => (cause = error)); // ioredis rejects with "Connection is closed"; the cause comes here
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return `Redis is not reachable at ${redact(redisUrl)} (${describe(cause ?? error)}).\n  ${REDIS_HINT}`;
  } finally {
    redis.disconnect();
  }
}

function describe(error: unknown): string {
  const { message, code } = error as { message?: string; code?: string };
  return message || code || String(error);
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
