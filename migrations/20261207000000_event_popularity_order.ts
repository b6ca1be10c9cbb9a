import type { Knex } from 'knex';

/**
 * The feed's popularity walks order equal values by event id, so which of two equally popular
 * events makes a cut does not depend on the plan (and is the one the evaluation's in-memory feed
 * takes). An index on (value desc, event_id) serves that order; the index on value alone is then
 * unused. Built in the migration's transaction: one row per event, seconds at a million events.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index event_popularity_value_event_id_index on event_popularity (value desc, event_id)');
  await knex.raw('drop index event_popularity_value_index');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('create index event_popularity_value_index on event_popularity (value)');
  await knex.raw('drop index event_popularity_value_event_id_index');
}
