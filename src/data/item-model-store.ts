import type { Knex } from 'knex';
import type { ItemNeighbours } from '../domain/item-model';
import { latestPositivesFirst } from './model-store';

/** What the item model was last fitted on, as model_state records it under 'item_model'. */
export interface ItemModelFit {
  /** Positive (user, event) pairs when it was fitted: a fit is due when this has changed. */
  positives: number;
  items: number;
  users: number;
  durationMs: number;
  /** ISO 8601. */
  fittedAt: string;
}

/** How many positive (user, event) pairs the model holds now (the sum of event_popularity.engaged: a few thousand rows, not the pairs). */
export async function countPositives(db: Knex): Promise<number> {
  const { rows } = await db.raw<{ rows: { n: string | null }[] }>('select sum(engaged)::bigint as n from event_popularity');
  return Number(rows[0]?.n ?? 0);
}

export async function readItemModelFit(db: Knex): Promise<ItemModelFit | undefined> {
  const { rows } = await db.raw<{ rows: { settings: ItemModelFit }[] }>("select settings from model_state where name = 'item_model'");
  return rows[0]?.settings;
}

/**
 * The events the fit may take, most users positive about first, whether each is still to start,
 * and each user's positive events among them, latest first (at most `perUser` each), as places in
 * that list.
 */
export async function readFitInput(
  db: Knex,
  items: number,
  perUser: number,
): Promise<{ candidates: string[]; upcoming: boolean[]; histories: number[][] }> {
  const { rows: top } = await db.raw<{ rows: { event_id: string; upcoming: boolean }[] }>(
    `select p.event_id, e.starts_at > now() as upcoming
       from (select event_id, engaged from event_popularity where engaged > 0 order by engaged desc, event_id limit ?) p
       join events e on e.id = p.event_id
      order by p.engaged desc, p.event_id`,
    [items],
  );
  const candidates = top.map((r) => r.event_id);
  const upcoming = top.map((r) => r.upcoming);
  const { rows } = await db.raw<{ rows: { places: number[] }[] }>(
    `select (array_agg((t.n - 1)::int order by ${latestPositivesFirst('s.')}))[1:?] as places
       from user_event_scores s
       join unnest(?::uuid[]) with ordinality as t(event_id, n) on t.event_id = s.event_id
      where s.positive_at is not null
      group by s.user_id`,
    [perUser, candidates],
  );
  return { candidates, upcoming, histories: rows.map((r) => r.places) };
}

/** Replaces the item model's weights with these, and records the fit: readers see the old or the new, whole. */
export async function writeItemModel(db: Knex, neighbours: ItemNeighbours, fit: ItemModelFit): Promise<void> {
  const eventIds: string[] = [];
  const neighbourIds: string[] = [];
  const weights: number[] = [];
  for (const [eventId, row] of neighbours) {
    for (const { eventId: neighbourId, weight } of row) {
      eventIds.push(eventId);
      neighbourIds.push(neighbourId);
      weights.push(weight);
    }
  }
  await db.transaction(async (trx) => {
    await trx.raw('delete from item_neighbours');
    await trx.raw(
      `insert into item_neighbours (event_id, neighbour_id, weight)
       select * from unnest(?::uuid[], ?::uuid[], ?::real[])`,
      [eventIds, neighbourIds, weights],
    );
    // Each fit replaces every row: statistics of the old ones would mislead the planner.
    await trx.raw('analyze item_neighbours');
    await trx.raw(
      `insert into model_state (name, settings, built_at, version) values ('item_model', ?::jsonb, now(), 1)
       on conflict (name) do update set settings = excluded.settings, built_at = excluded.built_at, version = model_state.version + 1`,
      [JSON.stringify(fit)],
    );
  });
}

/**
 * Runs `fn` in a transaction holding the fit's advisory lock, or returns undefined when another
 * worker holds it: one fit at a time across the workers.
 */
export async function withFitLock<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T | undefined> {
  return db.transaction(async (trx) => {
    const { rows } = await trx.raw<{ rows: { locked: boolean }[] }>(
      "select pg_try_advisory_xact_lock(hashtext('item_model_fit')) as locked",
    );
    return rows[0]?.locked ? fn(trx) : undefined;
  });
}
