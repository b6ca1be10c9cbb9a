// The Procfile's release step: creates the database if it is missing and applies migrations.
import { createDb, ensureDatabase, migrateLatest } from '../src/data/db';
import { loadConfigOrExit } from '../src/ops/lifecycle';
import { checkPostgres } from './preflight';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const problem = await checkPostgres(config.databaseUrl);
  if (problem) throw new Error(problem);
  await ensureDatabase(config.databaseUrl);
  const db = createDb(config);
  try {
    const applied = await migrateLatest(db);
    console.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date.');
  } finally {
    await db.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
