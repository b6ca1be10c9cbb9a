import type { Knex } from 'knex';

/**
 * The item model's weights (src/domain/item-model.ts): for each fitted event, its strongest
 * positive neighbours. Derived, like the other model tables: the workers replace it whole at each
 * fit, in one transaction, and record the fit in model_state under the name 'item_model'.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table item_neighbours (
      event_id uuid not null,
      neighbour_id uuid not null,
      weight real not null,
      primary key (event_id, neighbour_id)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table item_neighbours');
}
