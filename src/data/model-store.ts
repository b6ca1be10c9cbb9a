import type { Knex } from 'knex';
import { pairKey, settingsToWrite, type ModelInteraction, type ModelSettings, type ModelStore } from '../domain/model';

/**
 * The order of a user's positive events in user_event_scores, latest first: by when they happened,
 * then in the order they arrived (positive_seq, the order the fold pairs them in): a batch of one
 * second is sent in the order it happened. `t`: the table's alias in the statement, if any.
 */
export const latestPositivesFirst = (t = '') => `${t}positive_at desc, ${t}positive_seq desc nulls last, ${t}event_id`;

// Advisory lock keys (namespace, key). Interactions take the rebuild lock shared and their user's
// lock exclusively; a rebuild takes the rebuild lock exclusively.
const REBUILD_LOCK = 73_001;
const USER_LOCK = 73_002;

/**
 * Serialises the model updates of each of these users and keeps them out of a running rebuild.
 * Per-user order is what makes a replay reproduce the incremental state: the collaborative signal
 * depends on which of the user's positives came first. Taken in key order, so that two batches
 * sharing users wait for each other instead of deadlocking. Returns the settings the model was
 * built with (readModelSettings), read once the rebuild lock is held: a rebuild that committed
 * while this waited for it is seen.
 */
export async function lockForInteractions(trx: Knex.Transaction, userIds: string[]): Promise<ModelSettings | undefined> {
  await trx.raw('select pg_advisory_xact_lock_shared(?, 0)', [REBUILD_LOCK]);
  const { rows } = await trx.raw<{ rows: { settings: ModelSettings | null }[] }>(
    `select count(pg_advisory_xact_lock(?, key)), (select settings from model_state where name = 'scores') as settings
       from (select distinct hashtext(user_id) as key from unnest(?::text[]) as u(user_id) order by key) as keys`,
    [USER_LOCK, userIds],
  );
  return rows[0]?.settings ?? undefined;
}

export async function lockForRebuild(trx: Knex.Transaction): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(?, 0)', [REBUILD_LOCK]);
}

/** The model's state in PostgreSQL, inside the caller's transaction. Every call is one statement. */
export function sqlModelStore(trx: Knex.Transaction): ModelStore {
  return {
    async positivePairs(pairs) {
      if (pairs.length === 0) return new Set();
      const { rows } = await trx.raw<{ rows: { userId: string; eventId: string }[] }>(
        `select s.user_id as "userId", s.event_id as "eventId"
           from unnest(?::text[], ?::uuid[]) as p(user_id, event_id)
           join user_event_scores s on s.user_id = p.user_id and s.event_id = p.event_id
          where s.positive_at is not null`,
        [pairs.map((p) => p.userId), pairs.map((p) => p.eventId)],
      );
      return new Set(rows.map((r) => pairKey(r.userId, r.eventId)));
    },

    async add({ pairs, popularity, firstPositives }) {
      const iso = (d: Date | null) => d?.toISOString() ?? null;
      // Paired by foldCooccurrence, which merges the pairs of many transactions' users: one row
      // each here instead of up to twice the window of co-occurrence upserts. The row's id, taken
      // in the order the interactions are applied (one user's under their lock), becomes the pair's
      // positive_seq: the order the fold pairs a user's positives in, the same in a rebuild.
      const sequence = new Map<string, string>();
      if (firstPositives.length > 0) {
        const { rows } = await trx.raw<{ rows: { id: string; userId: string; eventId: string }[] }>(
          `insert into cooccurrence_pending (user_id, event_id, positive_at)
           select user_id, event_id, positive_at from unnest(?::text[], ?::uuid[], ?::timestamptz[]) with ordinality
                  as f(user_id, event_id, positive_at, n)
            order by n
           returning id, user_id as "userId", event_id as "eventId"`,
          [firstPositives.map((f) => f.userId), firstPositives.map((f) => f.eventId), firstPositives.map((f) => f.at.toISOString())],
        );
        for (const row of rows) sequence.set(pairKey(row.userId, row.eventId), row.id);
      }
      if (pairs.length > 0) {
        await trx.raw(
          `insert into user_event_scores as s
             (user_id, event_id, score, interaction_count, last_interaction_at, decayed, feature_weight, positive_at, positive_seq,
              dismissed_at, applied_at)
           select * from unnest(?::text[], ?::uuid[], ?::float8[], ?::int[], ?::timestamptz[], ?::float8[], ?::float8[], ?::timestamptz[],
                                ?::bigint[], ?::timestamptz[], ?::timestamptz[])
           on conflict (user_id, event_id) do update set
             score = s.score + excluded.score,
             interaction_count = s.interaction_count + excluded.interaction_count,
             last_interaction_at = greatest(s.last_interaction_at, excluded.last_interaction_at),
             decayed = s.decayed + excluded.decayed,
             feature_weight = s.feature_weight + excluded.feature_weight,
             positive_at = coalesce(s.positive_at, excluded.positive_at),
             positive_seq = coalesce(s.positive_seq, excluded.positive_seq),
             dismissed_at = greatest(s.dismissed_at, excluded.dismissed_at),
             applied_at = coalesce(s.applied_at, excluded.applied_at),
             updated_at = now()`,
          <Knex.Value[]>[
            pairs.map((p) => p.userId),
            pairs.map((p) => p.eventId),
            pairs.map((p) => p.score),
            pairs.map((p) => p.count),
            pairs.map((p) => iso(p.lastAt)),
            pairs.map((p) => p.decayed),
            pairs.map((p) => p.featureWeight),
            pairs.map((p) => iso(p.positiveAt)),
            pairs.map((p) => sequence.get(pairKey(p.userId, p.eventId)) ?? null),
            pairs.map((p) => iso(p.dismissedAt)),
            pairs.map((p) => iso(p.appliedAt)),
          ],
        );
      }
      // Last: the rows of popular events are the ones other transactions wait for, so hold them briefly.
      if (popularity.length > 0) {
        await trx.raw(
          `insert into event_popularity as p (event_id, value, engaged)
           select * from unnest(?::uuid[], ?::float8[], ?::float8[])
           on conflict (event_id) do update set value = p.value + excluded.value, engaged = p.engaged + excluded.engaged`,
          [popularity.map((p) => p.eventId), popularity.map((p) => p.value), popularity.map((p) => p.engaged)],
        );
      }
    },
  };
}

/**
 * First positives one fold takes: enough to merge many users' pairs (one fold of 20,000 wrote its
 * pairs in two thirds of the time of four folds of 5,000), few enough to hold its locks for a
 * couple of seconds.
 */
export const FOLD_BATCH = 20_000;

/**
 * Folds up to `limit` first positive interactions waiting in `cooccurrence_pending` into the
 * co-occurrence counts, in one statement: each is paired with its user's `cooccurrenceWindow`
 * latest positive events before it (in the order they became positive as the worker applied them,
 * positive_seq: so a positive stored late, after a retry, pairs the same whenever the fold runs,
 * and in a rebuild), weighted as `pairWeights` says with the pairing the model was built with
 * (settingsToWrite), and the pairs of all of them are summed before
 * they are written, so a pair many users share is one row write, both directions in it. The rows
 * folded are deleted in the same statement: a fold that fails folds nothing, and none is folded
 * twice. Folds running at once take different rows (SKIP LOCKED) and write in key order. Returns
 * how many rows it folded.
 */
export async function foldCooccurrence(trx: Knex.Transaction, own: ModelSettings, limit: number): Promise<number> {
  await trx.raw('select pg_advisory_xact_lock_shared(?, 0)', [REBUILD_LOCK]);
  const pairing = settingsToWrite(own, await readModelSettings(trx));
  // A full batch's pairs (about 300,000) overflow the default 4 MB: summing and sorting them spilled to disk.
  await trx.raw("set local work_mem = '64MB'");
  const { rows } = await trx.raw<{ rows: { folded: number }[] }>(
    `with taken as (
       delete from cooccurrence_pending
        where id in (select id from cooccurrence_pending order by id limit :limit for update skip locked)
       returning id, user_id, event_id
     ), pairs as (
       -- distance 1: the user's latest positive event before this one
       select w.event_id as earlier, t.event_id as later, power(w.distance, -:decay::float8) as weight
         from taken t
         cross join lateral (select event_id, row_number() over (order by positive_seq desc) as distance
                               from (select event_id, positive_seq from user_event_scores
                                      where user_id = t.user_id and positive_seq < t.id
                                      order by positive_seq desc limit :window) latest) w
     ), counted as (
       -- One row per pair of events, whichever came first: low_to_high is what the user who engaged
       -- with the lower id went on to (or came from, at the backward weight), high_to_low the other way.
       select least(earlier, later) as low, greatest(earlier, later) as high,
              sum(case when earlier < later then weight else :backward::float8 * weight end) as low_to_high,
              sum(case when earlier < later then :backward::float8 * weight else weight end) as high_to_low
         from pairs
        -- The window never pairs an event with itself; were it to, the check on low < high would fail every fold.
        where earlier <> later
        group by 1, 2
     ), written as (
       insert into event_pairs as c (low_event_id, high_event_id, low_to_high, high_to_low)
       select low, high, low_to_high, high_to_low from counted order by low, high
       on conflict (low_event_id, high_event_id) do update
         set low_to_high = c.low_to_high + excluded.low_to_high, high_to_low = c.high_to_low + excluded.high_to_low
     )
     select count(*)::int as folded from taken`,
    { limit, window: pairing.cooccurrenceWindow, decay: pairing.cooccurrenceDistanceDecay, backward: pairing.cooccurrenceBackward },
  );
  return rows[0]!.folded;
}

/**
 * Empties the derived tables inside the rebuild's transaction. DELETE, not TRUNCATE: TRUNCATE
 * would lock the feed's readers out until the rebuild commits; DELETE lets them read the old model.
 */
export async function resetModel(trx: Knex.Transaction): Promise<void> {
  for (const table of ['user_event_scores', 'event_popularity', 'event_pairs', 'cooccurrence_pending']) {
    await trx.raw('delete from ??', [table]);
  }
}

export async function countInteractions(trx: Knex.Transaction): Promise<number> {
  const { rows } = await trx.raw<{ rows: { n: string }[] }>('select count(*) as n from interactions');
  return Number(rows[0]!.n);
}

/** Every interaction in the order the workers persisted them, a page at a time. */
export async function* interactionsInPersistOrder(trx: Knex.Transaction, pageSize = 50_000): AsyncGenerator<ModelInteraction[]> {
  let after: { persistedAt: string; id: string } | undefined;
  for (;;) {
    const { rows } = await trx.raw<{ rows: (ModelInteraction & { id: string; persistedAt: string })[] }>(
      `select id, user_id as "userId", event_id as "eventId", action, occurred_at as "occurredAt", persisted_at::text as "persistedAt"
         from interactions
        ${after ? 'where (persisted_at, id) > (?::timestamptz, ?::uuid)' : ''}
        order by persisted_at, id limit ?`,
      after ? [after.persistedAt, after.id, pageSize] : [pageSize],
    );
    if (rows.length === 0) return;
    yield rows.map(({ userId, eventId, action, occurredAt }) => ({ userId, eventId, action, occurredAt }));
    const last = rows[rows.length - 1]!;
    after = { persistedAt: last.persistedAt, id: last.id };
  }
}

export async function readModelSettings(db: Knex): Promise<ModelSettings | undefined> {
  const { rows } = await db.raw<{ rows: { settings: ModelSettings }[] }>("select settings from model_state where name = 'scores'");
  return rows[0]?.settings;
}

/**
 * Records what the model was rebuilt with, and advances its version: no feed ranking made from the
 * model before the rebuild is served once it commits (see src/feed/feed.ts).
 */
export async function writeModelSettings(trx: Knex.Transaction, settings: ModelSettings): Promise<void> {
  await trx.raw(
    `insert into model_state (name, settings, built_at, version) values ('scores', ?::jsonb, now(), 1)
     on conflict (name) do update set settings = excluded.settings, built_at = excluded.built_at, version = model_state.version + 1`,
    [JSON.stringify(settings)],
  );
}
