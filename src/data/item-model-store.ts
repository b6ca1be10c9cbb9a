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

/** The events the fit may take, most users positive about first, and whether each is still to start. */
export async function readFitCandidates(db: Knex, items: number): Promise<{ candidates: string[]; upcoming: boolean[] }> {
  const { rows: top } = await db.raw<{ rows: { event_id: string; upcoming: boolean }[] }>(
    `select p.event_id, e.starts_at > now() as upcoming
       from (select event_id, engaged from event_popularity where engaged > 0 order by engaged desc, event_id limit ?) p
       join events e on e.id = p.event_id
      order by p.engaged desc, p.event_id`,
    [items],
  );
  return { candidates: top.map((r) => r.event_id), upcoming: top.map((r) => r.upcoming) };
}

/** Users `fitHistories` reads per statement. */
export const FIT_PAGE_USERS = 20_000;

/**
 * Each user's positive events among `candidates`, latest first (at most `perUser` each), as places
 * in that list, `pageSize` users (by id) per statement, afresh each time it is iterated: the fit
 * holds one page at a time, so its memory does not grow with the users.
 */
export function fitHistories(db: Knex, candidates: string[], perUser: number, pageSize = FIT_PAGE_USERS): AsyncIterable<number[]> {
  return {
    async *[Symbol.asyncIterator]() {
      let after: string | null = null;
      for (;;) {
        // The page's last user, off the primary key's order: the page then reads those users' rows alone.
        const bounds: { rows: { last: string | null; users: number }[] } = await db.raw(
          `select max(user_id) as last, count(*)::int as users
             from (select distinct user_id from user_event_scores where (?::text is null or user_id > ?) order by user_id limit ?) u`,
          [after, after, pageSize],
        );
        const { last, users } = bounds.rows[0]!;
        if (last === null) return;
        const page: { rows: { places: number[] }[] } = await db.raw(
          `select (array_agg((t.n - 1)::int order by ${latestPositivesFirst('s.')}))[1:?] as places
             from user_event_scores s
             join unnest(?::uuid[]) with ordinality as t(event_id, n) on t.event_id = s.event_id
            where s.positive_at is not null and (?::text is null or s.user_id > ?) and s.user_id <= ?
            group by s.user_id
            order by s.user_id`,
          [perUser, candidates, after, after, last],
        );
        for (const row of page.rows) yield row.places;
        if (users < pageSize) return;
        after = last;
      }
    },
  };
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
