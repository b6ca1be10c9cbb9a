import type { Knex } from 'knex';

/**
 * What the feed showed, and which ranking an interaction names. `feed_impressions` holds one row per
 * page served (append-only; rows older than FEED_IMPRESSIONS_RETENTION_DAYS are pruned by the
 * worker): who, when, which ranking and variant under which settings version, the page's events
 * and their positions in the ranking (`first_position` is the first's; a page skips events hidden
 * since, so `positions` holds each). `interactions.recommendation_id` is the ranking a client said
 * an interaction came from: added without a default, so no row is rewritten.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table feed_impressions (
      id uuid primary key,
      served_at timestamptz not null,
      user_id text not null,
      ranking_id text not null,
      variant text not null,
      settings_version integer not null,
      event_ids uuid[] not null,
      positions integer[] not null,
      first_position integer not null,
      check (cardinality(event_ids) = cardinality(positions))
    )`);
  await knex.raw('create index feed_impressions_user_served on feed_impressions (user_id, served_at)');
  await knex.raw('create index feed_impressions_served on feed_impressions (served_at)');
  await knex.raw('alter table interactions add column recommendation_id text');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table interactions drop column recommendation_id');
  await knex.raw('drop table feed_impressions');
}
