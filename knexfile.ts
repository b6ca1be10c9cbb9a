import { loadConfig } from './src/config';
import { knexSettings } from './src/data/db';

// For the knex CLI (`npx knex --knexfile knexfile.ts migrate:status`); the service itself
// migrates through scripts/release.ts, which also creates the database.
export default knexSettings(loadConfig());
