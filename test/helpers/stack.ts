import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Worker } from 'bullmq';
import type { Express } from 'express';
import jwt from 'jsonwebtoken';
import { connectAppDeps, createApi } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { createDb, dropDatabase, ensureDatabase, migrateLatest, type Db } from '../../src/data/db';
import type { AppDeps } from '../../src/http/deps';
import type { Step } from '../../src/http/pipeline';
import type { OutboxRelay } from '../../src/jobs/outbox';
import type { Producer } from '../../src/jobs/producer';
import { createLogger } from '../../src/ops/logger';
import type { Metrics } from '../../src/ops/metrics';
import { createInteractionWorker } from '../../src/jobs/interaction-worker';
import { cooccurrenceFolder } from '../../src/domain/cooccurrence-folder';
import type { DrainLoop } from '../../src/jobs/drain-loop';

export interface Stack {
  config: Config;
  app: Express;
  outboxRelay: OutboxRelay;
  metrics: Metrics;
  db: Db;
  producer: Producer;
  rankingCache: AppDeps['rankingCache'];
  baseUrl: string;
  /** Starts the real worker of this stack (once); `startStack` does it unless told not to. */
  startWorker(): Promise<Worker>;
  /** A token signed with this stack's secret; `sub` defaults to a fresh user id, `exp` to an hour. */
  token(claims?: Record<string, unknown>, options?: jwt.SignOptions): string;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  /** The value of one of this stack's feed counters for a label (`ahead`, `afresh`, `stored`, ...). */
  counted(counter: 'feedFirstPages' | 'feedRankings' | 'feedImpressions' | 'feedEngagements', label: string): Promise<number>;
  stop(): Promise<void>;
}

export interface RequestOptions {
  token?: string | null;
  /** A value to send as JSON, or a string to send as it is. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of any shape
}

/**
 * The API in process on a free port, with its own queue prefix, and (unless `worker: false`) the
 * real interaction worker consuming that queue.
 */
export async function startStack(
  options: {
    worker?: boolean;
    relay?: boolean;
    env?: Record<string, string>;
    ownDatabase?: boolean;
    /** Changes the API's steps (see createApi). */
    steps?: (defaults: Step[]) => Step[];
  } = {},
): Promise<Stack> {
  const tag = randomBytes(4).toString('hex');
  let databaseUrl = process.env.DATABASE_URL!;
  if (options.ownDatabase) {
    // For tests that rebuild the model, read whole feeds or use the outbox (a relay moves every row
    // of its database into its own queue): nothing of the other test files in view.
    const url = new URL(databaseUrl);
    url.pathname = `${url.pathname}_${tag}`;
    databaseUrl = url.toString();
    await ensureDatabase(databaseUrl);
    const migrator = createDb({ databaseUrl, databasePoolMax: 1 });
    await migrateLatest(migrator).finally(() => migrator.destroy());
  }
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: `${process.env.QUEUE_PREFIX}-${tag}`,
    ...options.env,
  });
  const logger = createLogger({ level: config.logLevel, name: 'test' });
  const deps = connectAppDeps(config, logger);
  const { db, producer } = deps;
  const { app, listener } = createApi(deps, { steps: options.steps });
  if (options.relay !== false) deps.outboxRelay.start();
  const server: Server = await new Promise((resolve) => {
    const s = createServer(listener).listen(0, '127.0.0.1', () => resolve(s));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let worker: Worker | undefined;
  let folder: DrainLoop | undefined;

  const stack: Stack = {
    config,
    app,
    db,
    producer,
    rankingCache: deps.rankingCache,
    outboxRelay: deps.outboxRelay,
    metrics: deps.metrics,
    baseUrl,
    async startWorker() {
      if (!worker) {
        folder = cooccurrenceFolder(db, config.model, logger, { intervalMs: 50, gapMs: 50 });
        folder.start();
        worker = createInteractionWorker({ config, db, logger, afterStore: () => folder!.kick() });
        await worker.waitUntilReady();
      }
      return worker;
    },
    token(claims = {}, signOptions = {}) {
      return jwt.sign({ sub: `user-${randomBytes(4).toString('hex')}`, ...claims }, config.jwt.secret, {
        algorithm: 'HS256',
        ...('exp' in claims ? {} : { expiresIn: '1h' }),
        ...signOptions,
      });
    },
    async request(method, path, { token, body, headers = {} } = {}) {
      const sentHeaders: Record<string, string> = { ...headers };
      if (token !== null) sentHeaders.authorization ??= `Bearer ${token ?? stack.token()}`;
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        sentHeaders['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${baseUrl}${path}`, { method, headers: sentHeaders, body: payload });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text, so an assertion shows what came back
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async counted(counter, label) {
      return (await deps.metrics[counter].get()).values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;
    },
    async stop() {
      // With Redis away (a test that failed before restarting it), waiting for the worker would never end.
      await worker?.close(producer.connection.status !== 'ready');
      await folder?.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await deps.close();
      if (options.ownDatabase) await dropDatabase(databaseUrl);
    },
  };
  if (options.worker !== false) await stack.startWorker();
  return stack;
}
