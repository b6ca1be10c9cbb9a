import type { Knex } from 'knex';

/**
 * Feature affinities are summed when a feed is ranked, from the user's latest events, instead of
 * kept per (user, feature): the worker wrote about six affinity rows per interaction, a third of
 * the drain's statement time. Each pair row now carries what it adds to its event's features
 * (`feature_weight`: the decayed weights, dismissals at 0.3).
 *
 * Until the rebuild that the new model version starts has run, a row's feature weight is its
 * decayed score: exact for every pair without a dismissal, a little high for the rest.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table user_event_scores add column feature_weight double precision not null default 0');
  await knex.raw('update user_event_scores set feature_weight = decayed');
  // The profile reads the user's latest positive events by (user_id, positive_at), and apart from
  // them the events they only dismissed: few, so a small index that most pair writes never touch.
  await knex.raw('create index user_event_scores_dismissed_only on user_event_scores (user_id, dismissed_at) where positive_at is null');
  await knex.schema.dropTable('user_feature_affinities');
}

export async function down(knex: Knex): Promise<void> {
  // Empty: the earlier model fills it again when it rebuilds.
  await knex.schema.createTable('user_feature_affinities', (t) => {
    t.text('user_id').notNullable();
    t.text('kind').notNullable();
    t.text('name').notNullable();
    t.double('value').notNullable();
    t.primary(['user_id', 'kind', 'name']);
  });
  await knex.raw('drop index user_event_scores_dismissed_only');
  await knex.raw('alter table user_event_scores drop column feature_weight');
}
