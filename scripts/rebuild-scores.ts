// `npm run scores:rebuild`: recomputes the recommendation model from the interactions table.
// Feeds ranked from the model before it are not served once it commits (it advances the model's version).
import { createDb } from '../src/data/db';
import { rebuildModel } from '../src/domain/rebuild-model';
import { loadConfigOrExit } from '../src/lifecycle';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const db = createDb(config);
  const started = Date.now();
  try {
    const { interactions } = await rebuildModel(db, config.model, progressBar());
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write('\n');
    console.log(`Rebuilt the model from ${interactions} interactions in ${seconds.toFixed(1)} s.`);
  } finally {
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
