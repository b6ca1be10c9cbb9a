import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('collections', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('user_id').notNullable();
    t.text('name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['user_id', 'created_at']);
  });

  await knex.schema.createTable('collection_events', (t) => {
    t.uuid('collection_id').notNullable().references('id').inTable('collections').onDelete('CASCADE');
    t.uuid('event_id').notNullable().references('id').inTable('events').onDelete('CASCADE');
    t.timestamp('added_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['collection_id', 'event_id']);
  });

  await knex.schema.createTable('gig_applications', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('event_id').notNullable().references('id').inTable('events');
    t.text('user_id').notNullable();
    t.text('message');
    t.text('status')
      .notNullable()
      .defaultTo('submitted')
      .checkIn(['submitted', 'accepted', 'rejected', 'withdrawn'], 'gig_applications_status_check');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['event_id', 'user_id']);
  });

  // Jobs written in the same transaction as the change that causes them, relayed to BullMQ after
  // commit: a committed change always gets its job, a rolled-back one never does.
  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('id').primary();
    t.text('job_name').notNullable();
    t.text('job_id').notNullable();
    t.jsonb('payload').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('outbox');
  await knex.schema.dropTable('gig_applications');
  await knex.schema.dropTable('collection_events');
  await knex.schema.dropTable('collections');
}
