import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../../src/config';
import { createDb, dropDatabase, ensureDatabase, migrateLatest, type Db } from '../../src/data/db';
import { connectRedis } from '../../src/data/redis';
import { QUEUES } from '../../src/jobs/definitions';
import { startLoad, type Load, type LoadOptions } from './load';
import { runEntry, type RunningProcess } from './processes';
import { sparePort } from './redis-server';
import { waitFor } from './wait';

export type Entry = 'web' | 'worker';

/**
 * The web and worker entry points as their own processes, as in production, on a database and a
 * queue prefix of their own (so that a rebuild or a count sees nothing of other tests).
 */
export interface Service {
  env: Record<string, string>;
  db: Db;
  /** The interactions queue, for counts and inspection. */
  queue: Queue;
  webUrl: string;
  /** Starts an entry point and waits until its /readyz answers 200. */
  start(entry: Entry, extraEnv?: Record<string, string>): Promise<RunningProcess>;
  /** The running process of an entry point, if any. */
  running(entry: Entry): RunningProcess | undefined;
  /** SIGKILL: no goodbye, no draining, as in a crash or an OOM kill. */
  crash(entry: Entry): Promise<void>;
  token(sub: string): string;
  /** Load on the web process (see startLoad), aborted by `stop` if still running. */
  load(options: Omit<LoadOptions, 'baseUrl'>): Load;
  stop(): Promise<void>;
}

export async function startService(
  options: { databaseUrl?: string; redisUrl?: string; env?: Record<string, string> } = {},
): Promise<Service> {
  const base = loadConfig();
  const tag = randomBytes(4).toString('hex');
  const url = new URL(options.databaseUrl ?? base.databaseUrl);
  url.pathname = `/svc_${tag}`;
  const databaseUrl = url.toString();
  await ensureDatabase(databaseUrl);
  const db = createDb({ databaseUrl, databasePoolMax: 4 });
  await migrateLatest(db);

  const env: Record<string, string> = {
    NODE_ENV: 'production',
    PORT: String(await sparePort()),
    WORKER_PORT: String(await sparePort()),
    DATABASE_URL: databaseUrl,
    REDIS_URL: options.redisUrl ?? base.redisUrl,
    QUEUE_PREFIX: `${base.queuePrefix}-svc-${tag}`,
    JWT_SECRET: `secret-${randomBytes(8).toString('hex')}`,
    RATE_LIMIT_WRITES_PER_MINUTE: '0',
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  // The service's own Redis settings: a plain server, a Sentinel group or a Cluster.
  const queueConnection = connectRedis(loadConfig({ ...process.env, ...env }), { retryDelayMs: () => 200 });
  queueConnection.on('error', () => undefined); // the fault tests take Redis away on purpose
  const queue = new Queue(QUEUES.interactions, { connection: queueConnection, prefix: env.QUEUE_PREFIX });
  queue.on('error', () => undefined);
  const processes = new Map<Entry, RunningProcess>();
  const loads: Load[] = [];
  const ports: Record<Entry, string> = { web: env.PORT!, worker: env.WORKER_PORT! };

  const service: Service = {
    env,
    db,
    queue,
    webUrl: `http://127.0.0.1:${env.PORT}`,
    async start(entry, extraEnv = {}) {
      if (isRunning(processes.get(entry))) throw new Error(`${entry} is already running`);
      const proc = runEntry(entry === 'web' ? 'src/server.ts' : 'workers/index.ts', { ...env, ...extraEnv });
      processes.set(entry, proc);
      let exited = false;
      void proc.exited.then(() => (exited = true));
      await waitFor(
        `${entry} to be ready`,
        async () => {
          if (exited) throw new Error(`${entry} exited before it was ready:\n${proc.output().slice(-3000)}`);
          return fetch(`http://127.0.0.1:${ports[entry]}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
            (r) => r.ok,
            () => false,
          );
        },
        60_000,
      );
      return proc;
    },
    running: (entry) => processes.get(entry),
    async crash(entry) {
      const proc = processes.get(entry);
      if (!proc || !isRunning(proc)) return;
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
    token: (sub) => jwt.sign({ sub }, env.JWT_SECRET!, { expiresIn: '1h' }),
    load(loadOptions) {
      const load = startLoad({ ...loadOptions, baseUrl: service.webUrl });
      loads.push(load);
      return load;
    },
    async stop() {
      await Promise.all(loads.map((load) => load.abort()));
      await Promise.all([service.crash('web'), service.crash('worker')]);
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close().catch(() => undefined);
      queueConnection.disconnect();
      await db.destroy();
      if (process.env.KEEP_TEST_DB !== '1') await dropDatabase(databaseUrl).catch(() => undefined);
    },
  };
  return service;
}

const isRunning = (proc?: RunningProcess) => !!proc && proc.child.exitCode === null && proc.child.signalCode === null;

/** Waits until no job of the service is waiting, delayed or in hand, and no outbox row waits to be queued. */
export async function waitUntilDrained(service: Service, timeoutMs = 180_000): Promise<void> {
  await waitFor(
    'the queue to drain',
    async () => {
      // The outbox first: a row is deleted only once its job is queued, so none is missed between the two reads.
      if ((await service.db('outbox').count({ n: '*' }))[0]!.n !== '0') return false;
      const counts = await service.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(counts).every((n) => n === 0);
    },
    timeoutMs,
  );
}

/** The ids of every interaction row of the service's database. */
export async function rowIds(service: Service): Promise<Set<string>> {
  const rows: { id: string }[] = await service.db('interactions').select('id');
  return new Set(rows.map((r) => r.id));
}

/** The rows are the accepted interactions, exactly: none lost, none extra. */
export async function expectRowsToBe(service: Service, accepted: Iterable<string>): Promise<void> {
  const rows = await rowIds(service);
  const expected = new Set(accepted);
  const missing = [...expected].filter((id) => !rows.has(id));
  const extra = [...rows].filter((id) => !expected.has(id));
  expect({ accepted: expected.size, missing: missing.slice(0, 5), extra: extra.slice(0, 5) }).toEqual({
    accepted: rows.size,
    missing: [],
    extra: [],
  });
}
