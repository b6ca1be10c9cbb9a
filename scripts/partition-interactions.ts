// `npm run db:partition`: turns `interactions` into monthly partitions of created_at (once; the
// rows so far stay in the old table, attached as the partition of everything before this month).
// From then on the worker keeps the coming months' partitions.
import { createDb } from '../src/data/db';
import { isPartitioned, partitionInteractions } from '../src/data/partitioning';
import { loadConfigOrExit } from '../src/ops/lifecycle';

async function main(): Promise<void> {
  const db = createDb(loadConfigOrExit());
  try {
    if (await isPartitioned(db)) {
      console.log('interactions is partitioned already.');
      return;
    }
    await partitionInteractions(db, new Date(), 3);
    console.log('interactions is now partitioned by month: the rows so far in interactions_before, then this month and the next two.');
  } finally {
    await db.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
