import type { Knex } from 'knex';

/**
 * Cheaper writes for the batched worker. The feed ranks a user's pairs by `decayed`, never by the
 * raw `score`, so that index only cost every upsert a write. Affinity values are not indexed: with
 * room left on each page, PostgreSQL updates them in place (HOT) instead of adding index entries.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('user_event_scores', (t) => t.dropIndex(['user_id', 'score']));
  await knex.raw('alter table user_feature_affinities set (fillfactor = 80)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table user_feature_affinities reset (fillfactor)');
  await knex.schema.alterTable('user_event_scores', (t) => t.index(['user_id', 'score']));
}
