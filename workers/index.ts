import { createDb } from '../src/data/db';
import { cooccurrenceFolder } from '../src/domain/cooccurrence-folder';
import { ensurePartitions } from '../src/data/partitioning';
import { scheduleRebuildIfStale } from '../src/domain/rebuild-model';
import { warnAboutRedisPolicy } from '../src/ops/health';
import { OutboxRelay } from '../src/jobs/outbox';
import { createProducer } from '../src/jobs/producer';
import { loadConfigOrExit, onShutdown } from '../src/ops/lifecycle';
import { createLogger } from '../src/ops/logger';
import { Metrics } from '../src/ops/metrics';
import { startHealthServer } from '../src/ops/health-server';
import { createInteractionWorker } from '../src/jobs/interaction-worker';
import { itemModelFitter } from '../src/domain/item-model-fitter';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'worker', pretty: config.env === 'development' });
const db = createDb(config, logger);
const producer = createProducer(config, logger);
const metrics = new Metrics('worker');
metrics.trackQueue(producer.queue);
metrics.trackOutbox(db);
// Co-occurrence is folded apart from the writes, merged across many users' interactions.
const folder = cooccurrenceFolder(db, config.model, logger);
folder.start();
// The item model is fitted in batch, now and then, once positives were added (src/domain/item-model.ts).
const fitter = config.itemModel.refitMs > 0 ? itemModelFitter(db, config.itemModel, logger) : undefined;
fitter?.start();
const afterStore = () => {
  folder.kick();
  fitter?.stored();
};
const worker = createInteractionWorker({ config, db, logger, metrics, afterStore });
// The web process relays its own commits at once; this one drains whatever is left (a web process
// that died between a commit and the relay, or Redis that was down at the time).
const outboxRelay = new OutboxRelay(db, producer, logger, { onFailure: () => metrics.outboxRelayFailures.inc() });
outboxRelay.start();
const healthServer = startHealthServer({ config, db, producer, metrics, logger });
producer.connection.once('ready', () => void warnAboutRedisPolicy(producer, logger));

// The coming months' partitions of interactions, when it is partitioned (npm run db:partition).
const keepPartitions = () =>
  ensurePartitions(db).catch((error: unknown) =>
    logger.warn({ err: error }, 'could not create the coming partitions of interactions; will try again'),
  );
const partitionTimer = setInterval(() => void keepPartitions(), 12 * 60 * 60 * 1000).unref();
void keepPartitions();

worker.once('ready', () => {
  logger.info({ queuePrefix: config.queuePrefix, concurrency: config.worker.concurrency }, 'worker ready');
  // Changed weights or half-life take effect through a rebuild job, run by a worker that has them (the job names them).
  producer.queue
    .waitUntilReady()
    .then(() => scheduleRebuildIfStale(db, producer, config.model))
    .then(
      (queued) => queued && logger.info('model settings changed: rebuild queued'),
      (error: unknown) => logger.warn({ err: error }, 'could not check the model settings; will check at next start'),
    );
});

onShutdown(
  logger,
  async () => {
    // close() lets the jobs in hand finish; anything not finished is picked up again after a restart.
    // With Redis away no job can be finished (or even marked done): close at once rather than wait
    // for a reconnect; jobs in hand become stalled and are redelivered, and their writes are idempotent.
    clearInterval(partitionTimer);
    await outboxRelay.stop();
    await worker.close(producer.connection.status !== 'ready');
    await folder.stop();
    await fitter?.stop();
    healthServer.close();
    await producer.close();
    await db.destroy();
  },
  config.shutdownTimeoutMs,
);
