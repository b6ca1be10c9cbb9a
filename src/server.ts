import { createServer } from 'node:http';
import v8 from 'node:v8';
import { connectAppDeps, createApi } from './app';
import { warnAboutRedisPolicy, warnIfNotReplica } from './ops/health';
import { loadConfigOrExit, onShutdown } from './ops/lifecycle';
import { createLogger } from './ops/logger';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'web', pretty: config.env === 'development' });
// Under load a third of what a request allocates outlives a minor collection, so the old generation
// fills fast; V8 then lets it grow to four times what is live before a full collection, and the
// process holds twice the memory it needs. A smaller factor costs a few more full collections of a
// small heap (see docs/performance.md).
if (config.webHeapGrowthPercent > 0) v8.setFlagsFromString(`--heap-growing-percent=${config.webHeapGrowthPercent}`);
const deps = connectAppDeps(config, logger);
const { app, listener } = createApi(deps);
deps.outboxRelay.start();
deps.eventExists.preload?.().catch((error: unknown) => logger.warn({ err: error }, 'events not preloaded: each is asked for as it comes'));
deps.producer.connection.once('ready', () => void warnAboutRedisPolicy(deps.producer, logger));
if (config.databaseReadUrl) void warnIfNotReplica(deps.feedDb, logger);

// Slow clients: a connection must deliver its headers within 10 s; a route that reads a body
// answers 408 itself once it has taken BODY_TIMEOUT_MS, and Node cuts off any request still coming
// in 10 s later (one whose body no route reads). The server checks every second (Node's default,
// 30 s, would let a slow client linger).
const server = createServer(
  {
    headersTimeout: 10_000,
    requestTimeout: config.bodyTimeoutMs + 10_000,
    keepAliveTimeout: 5_000,
    connectionsCheckingInterval: 1000,
  },
  listener,
);
server.listen(config.port, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, queuePrefix: config.queuePrefix }, `API listening on http://127.0.0.1:${port}`);
});

/** Longer than a load balancer takes to notice a failing readiness probe. */
const DRAIN_WINDOW_MS = 2000;

onShutdown(
  logger,
  async () => {
    // First, for a moment, fail readiness (so the load balancer stops sending new requests) and
    // answer everything with Connection: close (so clients stop reusing connections); then stop
    // accepting, let in-flight requests finish, and close connections as they fall idle. Closing at
    // once would reset requests still being routed here or sent on a kept-alive connection.
    app.locals.draining = true;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_WINDOW_MS));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
    await closed.finally(() => clearInterval(idleSweep));
    await deps.close();
  },
  config.shutdownTimeoutMs,
);
