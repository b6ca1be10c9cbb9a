import type { Knex } from 'knex';

/**
 * First positive interactions waiting to be paired into the co-occurrence counts: the worker's
 * transaction writes one row each, and a fold merges many users' pairs into the counts afterwards
 * (see foldCooccurrence). Was: up to twice the co-occurrence window of upserts per interaction in
 * the worker's transaction, a third of its statement time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('cooccurrence_pending', (t) => {
    t.bigIncrements('id').primary();
    t.text('user_id').notNullable();
    t.uuid('event_id').notNullable();
    t.timestamp('positive_at', { useTz: true }).notNullable();
  });
  // The order a user's events became positive in, as the worker applied them: the fold's window.
  await knex.schema.alterTable('user_event_scores', (t) => {
    t.bigInteger('positive_seq');
    t.index(['user_id', 'positive_seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('user_event_scores', (t) => {
    t.dropIndex(['user_id', 'positive_seq']);
    t.dropColumn('positive_seq');
  });
  await knex.schema.dropTable('cooccurrence_pending');
}
