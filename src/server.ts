import { connectAppDeps, createApp } from './app';
import { loadConfigOrExit, onShutdown } from './lifecycle';
import { createLogger } from './logger';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'web' });
const deps = connectAppDeps(config, logger);
const app = createApp(deps);
deps.outboxRelay.start();

const server = app.listen(config.port, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, queuePrefix: config.queuePrefix }, `API listening on http://127.0.0.1:${port}`);
});
// Bound how long a client may hold a connection without sending a full request (slow clients).
server.headersTimeout = 10_000;
server.requestTimeout = 15_000;
server.keepAliveTimeout = 5_000;

onShutdown(logger, async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  await deps.close();
});
