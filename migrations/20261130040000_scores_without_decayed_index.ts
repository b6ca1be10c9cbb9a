import type { Knex } from 'knex';

/**
 * The feed no longer reads a user's pairs by `decayed` (it shows events the user has not
 * interacted with), so that index only cost every pair upsert an index write. Without it, and with
 * room left on each page, an update of an existing pair is done in place (HOT).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('user_event_scores', (t) => t.dropIndex(['user_id', 'decayed']));
  await knex.raw('alter table user_event_scores set (fillfactor = 80)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table user_event_scores reset (fillfactor)');
  await knex.schema.alterTable('user_event_scores', (t) => t.index(['user_id', 'decayed']));
}
