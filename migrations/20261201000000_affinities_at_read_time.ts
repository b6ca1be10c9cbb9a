import type { Knex } from 'knex';

/**
 * Feature affinities are summed when a feed is ranked, from the user's latest events, instead of
 * kept per (user, feature): the worker wrote about six affinity rows per interaction, a third of
 * the drain's statement time. Each pair row now carries what it adds to its event's features
 * (`feature_weight`: the decayed weights, dismissals at 0.3). The new model version rebuilds the
 * rows, which fills it; until then the feed ranks without feature affinities.
 *
 * `user_feature_affinities` is no longer written or read, but stays for this release: the
 * previous release's workers write it and its web processes read it until they are replaced.
 *
 * Outside a transaction, so that no statement holds the table for longer than it must: adding a
 * column with a constant default rewrites nothing, and the index is built concurrently.
 */
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table user_event_scores add column if not exists feature_weight double precision not null default 0');
  // The profile reads the user's latest positive events by (user_id, positive_at), and apart from
  // them the events they only dismissed: few, so a small index that most pair writes never touch.
  await knex.raw(
    'create index concurrently if not exists user_event_scores_dismissed_only on user_event_scores (user_id, dismissed_at) where positive_at is null',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index concurrently if exists user_event_scores_dismissed_only');
  await knex.raw('alter table user_event_scores drop column if exists feature_weight');
}
