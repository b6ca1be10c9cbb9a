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
  await knex.raw(ATTRIBUTIONS);
}

/**
 * Which page each interaction came from, read when asked (nothing is written on the interactions'
 * path): the latest page served in [served_from, served_until) to its user that showed its event,
 * of the ranking its recommendation_id names if it names one, served before the interaction was
 * accepted and less than window_hours before the user acted. `select * from feed_attributions(now()
 * - interval '2 days', now(), 24)` gives each attributed interaction its ranking, position and variant.
 */
const ATTRIBUTIONS = `
  create function feed_attributions(served_from timestamptz, served_until timestamptz, window_hours double precision)
  returns table (interaction_id uuid, user_id text, event_id uuid, action text, ranking_id text, "position" integer,
                 variant text, served_at timestamptz)
  language sql stable as $$
    select distinct on (i.id) i.id, i.user_id, i.event_id, i.action, s.ranking_id, s.position, s.variant, s.served_at
      from (select f.served_at, f.user_id, f.ranking_id, f.variant, e.event_id, e.position
              from feed_impressions f cross join lateral unnest(f.event_ids, f.positions) as e(event_id, position)
             where f.served_at >= served_from and f.served_at < served_until) s
      join interactions i on i.user_id = s.user_id and i.event_id = s.event_id
       and i.created_at >= s.served_at
       and i.occurred_at < s.served_at + make_interval(secs => window_hours * 3600)
       and (i.recommendation_id is null or i.recommendation_id = s.ranking_id)
     order by i.id, s.served_at desc
  $$`;

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function feed_attributions(timestamptz, timestamptz, double precision)');
  await knex.raw('alter table interactions drop column recommendation_id');
  await knex.raw('drop table feed_impressions');
}
