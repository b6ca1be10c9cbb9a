import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config';
import { createDb, ensureDatabase, migrateLatest } from '../src/data/db';
import { checkPostgres, checkRedis } from '../scripts/preflight';

/**
 * One database and one queue prefix per run, so runs never see each other's rows or jobs;
 * test files share the database (each makes its own data) and get their own sub-prefix.
 */
export default async function globalSetup(): Promise<void> {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const base = loadConfig({ ...process.env, NODE_ENV: 'test' });
  const url = new URL(base.databaseUrl);
  url.pathname = `/interactions_test_${run}`;

  process.env.NODE_ENV = 'test';
  process.env.DATABASE_URL = url.toString();
  process.env.QUEUE_PREFIX = `test-${run}`;
  process.env.JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256';
  process.env.LOG_LEVEL ??= 'silent';
  // Tests send many requests as one user; the limits have a test of their own.
  process.env.RATE_LIMIT_WRITES_PER_MINUTE = '0';
  process.env.RATE_LIMIT_READS_PER_MINUTE = '0';

  const problems = (await Promise.all([checkPostgres(base.databaseUrl), checkRedis(base.redisUrl)])).filter(Boolean);
  if (problems.length > 0) throw new Error(`The tests need PostgreSQL and Redis:\n${problems.join('\n')}`);

  await ensureDatabase(process.env.DATABASE_URL);
  const db = createDb(loadConfig());
  try {
    await migrateLatest(db);
  } finally {
    await db.destroy();
  }
}
