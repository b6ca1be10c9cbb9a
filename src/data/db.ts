import { readdir } from 'node:fs/promises';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { knexSnakeCaseMappers } from 'objection';
import { Client } from 'pg';
import type { Config } from '../config';
import type { Logger } from '../ops/logger';

export type Db = Knex;

const MIGRATIONS_DIR = path.join(__dirname, '..', '..', 'migrations');
// .ts when running from source (tsx, jest), .js when running the build.
const EXTENSION = path.extname(__filename);

/**
 * Migrations are recorded by name without extension, so a database migrated from source (npm run
 * dev, db:migrate) and one migrated by the build (the Procfile's release) agree.
 */
const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    const files = await readdir(MIGRATIONS_DIR);
    return files
      .filter((file) => file.endsWith(EXTENSION) && !file.endsWith('.d.ts'))
      .map((file) => file.slice(0, -EXTENSION.length))
      .sort();
  },
  getMigrationName: (name) => name,
  getMigration: async (name) => require(path.join(MIGRATIONS_DIR, `${name}${EXTENSION}`)) as Knex.Migration,
};

export const migrationSettings: Knex.MigratorConfig = { migrationSource, tableName: 'knex_migrations' };

/** Knex settings shared by the app, the workers, the scripts and knexfile.ts. */
export function knexSettings(config: Pick<Config, 'databaseUrl' | 'databasePoolMax'>, logger?: Logger): Knex.Config {
  return {
    // knex otherwise writes its warnings (a refused connection, say) to the console, outside the JSON logs.
    ...(logger && { log: knexLog(logger) }),
    client: 'pg',
    // TCP keepalive: an idle pooled connection to a server that is gone (an old primary after a
    // failover) is found dead and dropped, rather than handed to a query that then never answers.
    connection: {
      connectionString: config.databaseUrl,
      connectionTimeoutMillis: 2000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
    // A pool that cannot hand out a connection within 2 s means PostgreSQL is down or saturated:
    // fail the request (503) or the job (retry) instead of queueing behind it.
    pool: { min: 0, max: config.databasePoolMax },
    acquireConnectionTimeout: 2000,
    migrations: migrationSettings,
    ...knexSnakeCaseMappers(),
  };
}

/**
 * knex's warnings and errors in the JSON logs, each at most once per 10 s with how many were left
 * out since: with PostgreSQL away, knex warns with a stack on every query that finds no connection,
 * and the outage itself is logged by its changes of state (OutageLog).
 */
function knexLog(logger: Logger): Knex.Config['log'] {
  const limited = (level: 'warn' | 'error') => {
    let last = -Infinity;
    let omitted = 0;
    return (m: unknown) => {
      const now = Date.now();
      if (now - last < 10_000) {
        omitted += 1;
        return;
      }
      logger[level]({ knex: m, ...(omitted > 0 && { omitted }) });
      last = now;
      omitted = 0;
    };
  };
  return { warn: limited('warn'), error: limited('error'), deprecate: () => undefined, debug: () => undefined };
}

export function createDb(config: Pick<Config, 'databaseUrl' | 'databasePoolMax'>, logger?: Logger): Db {
  return knex(knexSettings(config, logger));
}

/** Creates the database named in the URL when it does not exist yet (first start on a fresh machine). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    const found = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      await admin.query(`create database ${quoteIdent(name)}`).catch((error: { code?: string }) => {
        // Another process (web and worker starting together) created it first.
        if (error.code !== '42P04') throw error;
      });
    }
  } finally {
    await admin.end();
  }
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`);
  } finally {
    await admin.end();
  }
}

/** Applies every pending migration; returns the names of those it ran. */
export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationSettings)) as [number, string[]];
  return applied;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
