// `npm run scores:rebuild`: recomputes the recommendation model from the interactions table.
// Feeds ranked from the model before it are not served once it commits (it advances the model's version).
import { Presets, SingleBar } from 'cli-progress';
import { createDb } from '../src/data/db';
import { rebuildModel } from '../src/domain/rebuild-model';
import { loadConfigOrExit } from '../src/ops/lifecycle';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const db = createDb(config);
  const started = Date.now();
  const progress = progressBar();
  try {
    const { interactions } = await rebuildModel(db, config.model, progress.update);
    progress.stop();
    const seconds = (Date.now() - started) / 1000;
    console.log(`Rebuilt the model from ${interactions} interactions in ${seconds.toFixed(1)} s.`);
  } finally {
    await db.destroy();
  }
}

/** On stderr, also when it is not a terminal (the bench reads the last `done/total` it printed). */
function progressBar() {
  const bar = new SingleBar(
    { format: '[{bar}] {percentage}%  {value}/{total}  {rate}/s', noTTYOutput: true, notTTYSchedule: 2000, stream: process.stderr },
    Presets.legacy,
  );
  const started = Date.now();
  let began = false;
  return {
    update(done: number, total: number) {
      const rate = (done / Math.max((Date.now() - started) / 1000, 0.001)).toFixed(0);
      if (!began) bar.start(total, done, { rate });
      began = true;
      bar.setTotal(total);
      bar.update(done, { rate });
    },
    stop: () => bar.stop(),
  };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
