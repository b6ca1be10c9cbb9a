// `npm run scores:rebuild`: recomputes the recommendation model from the interactions table.
import { createDb } from '../src/data/db';
import { connectRedis } from '../src/data/redis';
import { rebuildModel } from '../src/domain/rebuild-model';
import { loadConfigOrExit } from '../src/lifecycle';
import { createLogger } from '../src/logger';
import { createFeedRefresher } from '../workers/feed-refresher';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const db = createDb(config);
  // A few tries, then its commands fail: afterRebuild reports it, and the rebuild stands.
  const redis = connectRedis(config, { retryDelayMs: (attempt) => (attempt > 3 ? null : 500) });
  redis.on('error', () => undefined); // reported by afterRebuild
  const started = Date.now();
  try {
    const { interactions } = await rebuildModel(db, config.model, progressBar());
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write('\n');
    console.log(`Rebuilt the model from ${interactions} interactions in ${seconds.toFixed(1)} s.`);
    // Feeds ranked from the model before the rebuild are not served any more.
    await createFeedRefresher(config, { db, redis, logger: createLogger({ level: config.logLevel, name: 'rebuild' }) }).afterRebuild();
  } finally {
    redis.disconnect();
    await db.destroy();
  }
}

function progressBar(width = 30) {
  const started = Date.now();
  return (done: number, total: number) => {
    const ratio = total === 0 ? 1 : done / total;
    const filled = Math.round(ratio * width);
    const rate = done / Math.max((Date.now() - started) / 1000, 0.001);
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${done}/${total}  ${rate.toFixed(0)}/s `,
    );
  };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
