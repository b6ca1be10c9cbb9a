import type { Knex } from 'knex';

/**
 * The recommendation model the workers keep up to date. Every decayed value is stored scaled to a
 * fixed epoch (weight × 2^((t − epoch) / half-life)), so time passing rewrites nothing: at any
 * moment all values share one divisor, and the feed ranks them as they are.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('user_event_scores', (t) => {
    t.double('decayed').notNullable().defaultTo(0);
    // First positive interaction (SAVE, CLICK, APPLY) with the event: the collaborative signal's input.
    t.timestamp('positive_at', { useTz: true });
    t.timestamp('dismissed_at', { useTz: true });
    t.timestamp('applied_at', { useTz: true });
    t.index(['user_id', 'decayed']);
    t.index(['user_id', 'positive_at']);
  });

  await knex.schema.createTable('user_feature_affinities', (t) => {
    t.text('user_id').notNullable();
    // "category:jazz", "tag:live", "city:berlin", "organizer:o-1", "kind:gig"
    t.text('feature').notNullable();
    t.double('value').notNullable();
    t.primary(['user_id', 'feature']);
  });

  await knex.schema.createTable('event_popularity', (t) => {
    t.uuid('event_id').primary();
    // Decayed sum of positive weights over all users.
    t.double('value').notNullable();
    // Decayed count of users who engaged with the event: normalises the co-occurrence.
    t.double('engaged').notNullable().defaultTo(0);
    t.index(['value']);
  });

  await knex.schema.createTable('event_cooccurrence', (t) => {
    t.uuid('event_id').notNullable();
    t.uuid('other_event_id').notNullable();
    t.double('value').notNullable();
    t.primary(['event_id', 'other_event_id']);
    t.index(['event_id', 'value']);
  });

  await knex.schema.createTable('model_state', (t) => {
    t.text('name').primary();
    // The weights, half-life and epoch the derived tables were built with.
    t.jsonb('settings').notNullable();
    t.timestamp('built_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Candidate lookups of the feed.
  await knex.raw('create index events_tags_gin on events using gin (tags)');
  await knex.raw('create index events_category_starts_at on events (lower(category), starts_at)');
  await knex.raw('create index events_city_starts_at on events (lower(city), starts_at)');
  await knex.raw('create index events_organizer_starts_at on events (organizer_id, starts_at)');
  // Replay order of a rebuild.
  await knex.raw('create index interactions_persisted_at_id on interactions (persisted_at, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index interactions_persisted_at_id');
  for (const index of ['events_tags_gin', 'events_category_starts_at', 'events_city_starts_at', 'events_organizer_starts_at']) {
    await knex.raw(`drop index ${index}`);
  }
  await knex.schema.dropTable('model_state');
  await knex.schema.dropTable('event_cooccurrence');
  await knex.schema.dropTable('event_popularity');
  await knex.schema.dropTable('user_feature_affinities');
  await knex.schema.alterTable('user_event_scores', (t) => {
    t.dropIndex(['user_id', 'positive_at']);
    t.dropIndex(['user_id', 'decayed']);
    t.dropColumns('decayed', 'positive_at', 'dismissed_at', 'applied_at');
  });
}
