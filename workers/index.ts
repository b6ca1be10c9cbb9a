import { createDb } from '../src/data/db';
import { loadConfigOrExit, onShutdown } from '../src/lifecycle';
import { createLogger } from '../src/logger';
import { createInteractionWorker } from './interaction-worker';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'worker' });
const db = createDb(config);
const worker = createInteractionWorker({ config, db, logger });
worker.on('ready', () => logger.info({ queuePrefix: config.queuePrefix, concurrency: config.worker.concurrency }, 'worker ready'));

onShutdown(logger, async () => {
  // close() lets the jobs in hand finish; anything not finished is picked up again after a restart.
  await worker.close();
  await db.destroy();
});
