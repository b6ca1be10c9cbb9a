import type { Knex } from 'knex';

/**
 * A filtered feed walks upcoming events in start order (the soonest that pass, and the most popular
 * among them). With an index on one filter field only, a combination few events pass (jazz in a
 * city of rock concerts) read every event of the city to find them. With these, each walk is one
 * kind (and one category) at a time: the index's prefix is the whole filter, so a walk reads only
 * events that pass it, and stops at its limit however big the catalogue (src/feed/candidates.ts).
 *
 * Built concurrently, outside a transaction, so that creating events is not held while they build;
 * an index a failed build left invalid is built again.
 */
export const config = { transaction: false };

const INDEXES: [string, string][] = [
  ['events_kind_starts_at', '(kind, starts_at)'],
  ['events_kind_city_starts_at', '(kind, lower(city), starts_at)'],
  ['events_kind_category_starts_at', '(kind, lower(category), starts_at)'],
  ['events_kind_city_category_starts_at', '(kind, lower(city), lower(category), starts_at)'],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, columns] of INDEXES) {
    const { rows } = await knex.raw<{ rows: { valid: boolean }[] }>(
      'select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = ?',
      [name],
    );
    if (rows[0]?.valid) continue;
    if (rows[0]) await knex.raw(`drop index concurrently ${name}`);
    await knex.raw(`create index concurrently ${name} on events ${columns}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of INDEXES) await knex.raw(`drop index concurrently if exists ${name}`);
}
