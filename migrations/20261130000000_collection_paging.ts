import type { Knex } from 'knex';

/**
 * Indexes for paging through collections and their events by position (created or added, then id),
 * so that each page is one bounded index walk whatever a user has accumulated.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index collections_user_id_created_at_id on collections (user_id, created_at, id)');
  await knex.raw('drop index collections_user_id_created_at_index');
  await knex.raw('create index collection_events_collection_id_added_at on collection_events (collection_id, added_at, event_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index collection_events_collection_id_added_at');
  await knex.raw('create index collections_user_id_created_at_index on collections (user_id, created_at)');
  await knex.raw('drop index collections_user_id_created_at_id');
}
