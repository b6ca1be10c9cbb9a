import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('events', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('title').notNullable();
    t.timestamp('starts_at', { useTz: true }).notNullable();
    t.text('kind').notNullable().checkIn(['event', 'gig'], 'events_kind_check');
    t.text('category');
    t.specificType('tags', 'text[]').notNullable().defaultTo('{}');
    t.text('city');
    t.text('ticket_url');
    t.text('organizer_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['starts_at']);
  });

  // No foreign key to events: the log records what users did, and must neither block nor be
  // blocked by an event's lifecycle (an event removed after the API accepted an interaction).
  await knex.schema.createTable('interactions', (t) => {
    t.uuid('id').primary();
    t.text('user_id').notNullable();
    t.uuid('event_id').notNullable();
    t.text('action').notNullable().checkIn(['VIEW', 'SAVE', 'CLICK', 'APPLY', 'DISMISS'], 'interactions_action_check');
    t.text('source').notNullable().checkIn(['api', 'collection', 'gig_application'], 'interactions_source_check');
    // When the API accepted the interaction; persisted_at is when the worker wrote it.
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('persisted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['user_id', 'created_at']);
    t.index(['event_id', 'created_at']);
  });

  await knex.raw(`
    create function interactions_reject_change() returns trigger language plpgsql as $$
    begin
      raise exception 'interactions is append-only: % is not allowed', tg_op
        using errcode = 'restrict_violation';
    end
    $$;
    create trigger interactions_no_update_delete before update or delete on interactions
      for each row execute function interactions_reject_change();
    create trigger interactions_no_truncate before truncate on interactions
      for each statement execute function interactions_reject_change();
  `);

  await knex.schema.createTable('user_event_scores', (t) => {
    t.text('user_id').notNullable();
    t.uuid('event_id').notNullable();
    t.double('score').notNullable();
    t.integer('interaction_count').notNullable();
    t.timestamp('last_interaction_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['user_id', 'event_id']);
    t.index(['user_id', 'score']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('user_event_scores');
  await knex.schema.dropTable('interactions');
  await knex.raw('drop function interactions_reject_change() cascade');
  await knex.schema.dropTable('events');
}
