import type { Knex } from 'knex';

/**
 * Feature affinities have been summed when a feed is ranked since 20261201000000; that migration
 * left `user_feature_affinities` for the processes of the release before it, which wrote and read
 * it. None of the releases since touches it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists user_feature_affinities');
}

/** Empty, as it was last shaped: a release that reads it rebuilds its model (its settings version is older). */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create table if not exists user_feature_affinities (
      user_id text not null,
      value double precision not null,
      kind text not null,
      name text not null,
      primary key (user_id, kind, name)
    ) with (fillfactor = 80)`);
}
