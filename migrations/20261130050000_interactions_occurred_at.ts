import type { Knex } from 'knex';

/**
 * When the user acted, by the client's clock corrected for its skew (POST /interactions and
 * /interactions/batch take `occurredAt`); equal to created_at, the acceptance time, when the client
 * sent none. The model decays by it.
 *
 * Rows written before it existed get their created_at. The table is append-only: for that one
 * statement, inside this transaction, its guard lets exactly this change through (other sessions
 * only ever see the strict guard; replacing the function reaches every partition's trigger alike).
 */
const STRICT = `
  create or replace function interactions_reject_change() returns trigger language plpgsql as $$
  begin
    raise exception 'interactions is append-only: % is not allowed', tg_op
      using errcode = 'restrict_violation';
  end
  $$`;

const BACKFILL_ONLY = `
  create or replace function interactions_reject_change() returns trigger language plpgsql as $$
  begin
    if tg_op = 'UPDATE' and old.occurred_at is null and new.occurred_at = old.created_at
       and (to_jsonb(new) - 'occurred_at') = (to_jsonb(old) - 'occurred_at') then
      return new;
    end if;
    raise exception 'interactions is append-only: % is not allowed', tg_op
      using errcode = 'restrict_violation';
  end
  $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table interactions add column occurred_at timestamptz');
  await knex.raw(BACKFILL_ONLY);
  await knex.raw('update interactions set occurred_at = created_at');
  await knex.raw(STRICT);
  await knex.raw('alter table interactions alter column occurred_at set not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table interactions drop column occurred_at');
}
