import type { Knex } from 'knex';

/**
 * Each event's feature keys ("category:jazz", "tag:live", "city:berlin", "organizer:…", "kind:gig"),
 * spelled as featuresOf (src/domain/model.ts) spells them, kept by PostgreSQL as a generated column:
 * the feed sums a user's affinities by unnesting them, and finds events matching the user's
 * strongest features by array overlap (a GIN index), instead of building the keys of every profile
 * event and candidate on each first page. Adding the column rewrites `events` once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function event_feature_keys(category text, tags text[], city text, organizer_id text, kind text)
    returns text[] language sql immutable parallel safe as $$
      select coalesce(array_agg(distinct key), '{}')
        from (select 'category:' || lower(btrim(category)) as key where category <> ''
              union all select 'tag:' || lower(btrim(tag)) from unnest(tags) as tag
              union all select 'city:' || lower(btrim(city)) where city <> ''
              union all select 'organizer:' || organizer_id where organizer_id <> ''
              union all select 'kind:' || kind where kind <> '') keys
    $$`);
  await knex.raw(`alter table events add column feature_keys text[] not null
                    generated always as (event_feature_keys(category, tags, city, organizer_id, kind)) stored`);
  await knex.raw('create index events_feature_keys_gin on events using gin (feature_keys)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table events drop column feature_keys');
  await knex.raw('drop function event_feature_keys(text, text[], text, text, text)');
}
