import type { Knex } from 'knex';

/**
 * Feed freshness in PostgreSQL: a version per user, advanced by the transaction that stores their
 * interactions, and one for the model, advanced by every rebuild. A ranking records both, read in
 * the same statement as its candidates; a first page is served from it only while they still match.
 * And a user's feature affinities keep the feature's type and value apart, so that no query splits
 * strings.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('feed_versions', (t) => {
    t.text('user_id').primary();
    t.bigInteger('version').notNullable();
  });
  await knex.raw('alter table feed_versions set (fillfactor = 80)');
  await knex.schema.alterTable('model_state', (t) => {
    t.bigInteger('version').notNullable().defaultTo(0);
  });
  await knex.schema.alterTable('user_feature_affinities', (t) => {
    t.text('kind');
    t.text('name');
  });
  await knex.raw(`update user_feature_affinities set kind = split_part(feature, ':', 1), name = substr(feature, strpos(feature, ':') + 1)`);
  await knex.raw('alter table user_feature_affinities drop constraint user_feature_affinities_pkey');
  await knex.schema.alterTable('user_feature_affinities', (t) => {
    t.dropColumn('feature');
  });
  await knex.raw('alter table user_feature_affinities alter column kind set not null, alter column name set not null');
  await knex.raw('alter table user_feature_affinities add primary key (user_id, kind, name)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table user_feature_affinities drop constraint user_feature_affinities_pkey');
  await knex.schema.alterTable('user_feature_affinities', (t) => {
    t.text('feature');
  });
  await knex.raw(`update user_feature_affinities set feature = kind || ':' || name`);
  await knex.schema.alterTable('user_feature_affinities', (t) => {
    t.dropColumns('kind', 'name');
  });
  await knex.raw('alter table user_feature_affinities alter column feature set not null');
  await knex.raw('alter table user_feature_affinities add primary key (user_id, feature)');
  await knex.schema.alterTable('model_state', (t) => {
    t.dropColumn('version');
  });
  await knex.schema.dropTable('feed_versions');
}
