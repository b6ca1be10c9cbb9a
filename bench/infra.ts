// The run's own databases and queue prefixes on the machine's shared PostgreSQL and Redis.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Client, Pool } from 'pg';
import { onCleanup } from './cleanup';
import { build, runNodeScript } from './processes';

export const PG_BASE = process.env.BENCH_PG_BASE ?? 'postgres://postgres@127.0.0.1:5432';
export const REDIS_URL = 'redis://127.0.0.1:6379';
/** The service's queue name; part of its Redis keys, so a deployment contract. */
export const QUEUE_NAME = 'interactions';

/** One database and one queue prefix: what a deployment of the service needs. */
export interface Deployment {
  name: string;
  databaseUrl: string;
  queuePrefix: string;
  pool: Pool;
}

const runTag = `${Date.now()}_${process.pid}`;

export function deploymentNames(label: string): { database: string; queuePrefix: string } {
  return { database: `bench_${runTag}_${label}`, queuePrefix: `bench-${process.pid}-${label}` };
}

/**
 * Creates the database and applies migrations with the service's own release script, so the
 * schema is exactly the build's. Cleanup drops the database and deletes the prefix's keys.
 */
export async function createDeployment(label: string, baseEnv: Record<string, string>): Promise<Deployment> {
  const { database, queuePrefix } = deploymentNames(label);
  const databaseUrl = `${PG_BASE}/${database}`;
  onCleanup(`delete redis keys ${queuePrefix}:*`, async () => void (await deleteKeys(queuePrefix)));
  onCleanup(`drop database ${database}`, () => dropDatabase(database));
  const release = await runNodeScript(
    'release',
    [build('scripts/release.js')],
    { ...baseEnv, DATABASE_URL: databaseUrl, QUEUE_PREFIX: queuePrefix },
    120_000,
  );
  if (release.code !== 0) throw new Error(`release failed for ${database}:\n${release.output}`);
  const pool = new Pool({ connectionString: databaseUrl, max: 4 });
  onCleanup(`close pool ${database}`, () => pool.end().catch(() => undefined));
  return { name: label, databaseUrl, queuePrefix, pool };
}

/** Drops the database and its keys now, to free disk and memory before the next phase. */
export async function dropDeployment(deployment: Deployment): Promise<void> {
  await deployment.pool.end().catch(() => undefined);
  await dropDatabase(new URL(deployment.databaseUrl).pathname.slice(1));
  await deleteKeys(deployment.queuePrefix);
}

async function dropDatabase(name: string): Promise<void> {
  const admin = new Client({ connectionString: `${PG_BASE}/postgres` });
  await admin.connect();
  try {
    // FORCE ends the sessions of children that did not exit (or of a killed rebuild).
    await admin.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}

export async function deleteKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Read-only view of a deployment's queue: how many jobs are still to be done. */
export class QueueProbe {
  private readonly queue: Queue;

  constructor(prefix: string) {
    this.queue = new Queue(QUEUE_NAME, { connection: { url: REDIS_URL, maxRetriesPerRequest: 3 }, prefix });
    this.queue.on('error', () => undefined);
  }

  /** Jobs not finished yet (waiting, running, delayed for a retry, ...), and those failed for good. */
  async counts(): Promise<{ pending: number; failed: number; completed: number }> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed');
    const pending = (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0);
    return { pending, failed: c.failed ?? 0, completed: c.completed ?? 0 };
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

export async function countRows(pool: Pool, where = '', params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`select count(*) as n from interactions ${where}`, params);
  return Number(rows[0]!.n);
}
