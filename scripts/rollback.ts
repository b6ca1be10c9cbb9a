// Rolls back the last batch of migrations (development use).
import { createDb, migrationSettings } from '../src/data/db';
import { loadConfigOrExit } from '../src/ops/lifecycle';

async function main(): Promise<void> {
  const db = createDb(loadConfigOrExit());
  try {
    const [, rolledBack] = (await db.migrate.rollback(migrationSettings)) as [number, string[]];
    console.log(rolledBack.length ? `Rolled back: ${rolledBack.join(', ')}` : 'Nothing to roll back.');
  } finally {
    await db.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
