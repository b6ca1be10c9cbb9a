import type { Knex } from 'knex';

/**
 * Co-occurrence stored once per pair of events instead of once per direction: the fold wrote two
 * rows, each with an entry in two indexes, for every pair; one row with both directions' values
 * and an index for each direction is a quarter to a third less of its time. The feed reads an
 * event's strongest neighbours from both indexes (src/feed/candidates.ts).
 *
 * The counts are copied from `event_cooccurrence`, so the feed keeps its neighbours through the
 * deploy; the new model version then rebuilds them, which also takes in what the previous
 * release's workers fold while they are being replaced. `event_cooccurrence` stays for that
 * release and is dropped in a later one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table event_pairs (
      low_event_id uuid not null,
      high_event_id uuid not null,
      low_to_high double precision not null,
      high_to_low double precision not null,
      primary key (low_event_id, high_event_id),
      check (low_event_id < high_event_id)
    )`);
  await knex.raw(`
    insert into event_pairs (low_event_id, high_event_id, low_to_high, high_to_low)
    select least(event_id, other_event_id), greatest(event_id, other_event_id),
           sum(case when event_id < other_event_id then value else 0 end),
           sum(case when event_id > other_event_id then value else 0 end)
      from event_cooccurrence where event_id <> other_event_id
     group by 1, 2`);
  await knex.raw('create index event_pairs_low_neighbours on event_pairs (low_event_id, low_to_high)');
  await knex.raw('create index event_pairs_high_neighbours on event_pairs (high_event_id, high_to_low)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists event_pairs');
}
