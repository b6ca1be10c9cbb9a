import type { Knex } from 'knex';
import type { EventFeatures, ModelInteraction, ModelSettings, ModelStore, PairChange } from '../domain/model';

// Advisory lock keys (namespace, key). Interactions take the rebuild lock shared and their user's
// lock exclusively; a rebuild takes the rebuild lock exclusively.
const REBUILD_LOCK = 73_001;
const USER_LOCK = 73_002;

/**
 * Serialises the model updates of one user and keeps them out of a running rebuild. Per-user order
 * is what makes a replay reproduce the incremental state: the collaborative signal depends on which
 * of the user's positives came first.
 */
export async function lockForInteraction(trx: Knex.Transaction, userId: string): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock_shared(?, 0), pg_advisory_xact_lock(?, hashtext(?))', [REBUILD_LOCK, USER_LOCK, userId]);
}

export async function lockForRebuild(trx: Knex.Transaction): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(?, 0)', [REBUILD_LOCK]);
}

/** The model's state in PostgreSQL, inside the caller's transaction. */
export function sqlModelStore(trx: Knex.Transaction, eventCache?: Map<string, EventFeatures | undefined>): ModelStore {
  return {
    async firstPositiveAt(userId, eventId) {
      const { rows } = await trx.raw<{ rows: { positiveAt: Date | null }[] }>(
        'select positive_at as "positiveAt" from user_event_scores where user_id = ? and event_id = ?',
        [userId, eventId],
      );
      return rows[0]?.positiveAt ?? null;
    },

    async recentPositiveEvents(userId, limit, exceptEventId) {
      const { rows } = await trx.raw<{ rows: { eventId: string }[] }>(
        `select event_id as "eventId" from user_event_scores
          where user_id = ? and positive_at is not null and event_id <> ?
          order by positive_at desc, event_id limit ?`,
        [userId, exceptEventId, limit],
      );
      return rows.map((r) => r.eventId);
    },

    async eventFeatures(eventId) {
      if (eventCache?.has(eventId)) return eventCache.get(eventId);
      const { rows } = await trx.raw<{ rows: EventFeatures[] }>(
        'select category, tags, city, organizer_id as "organizerId", kind from events where id = ?',
        [eventId],
      );
      eventCache?.set(eventId, rows[0]);
      return rows[0];
    },

    async addToPair(change: PairChange) {
      const at = change.at.toISOString();
      await trx.raw(
        `insert into user_event_scores as s
           (user_id, event_id, score, interaction_count, last_interaction_at, decayed, positive_at, dismissed_at, applied_at)
         values (?, ?, ?, 1, ?, ?, ?, ?, ?)
         on conflict (user_id, event_id) do update set
           score = s.score + excluded.score,
           interaction_count = s.interaction_count + 1,
           last_interaction_at = greatest(s.last_interaction_at, excluded.last_interaction_at),
           decayed = s.decayed + excluded.decayed,
           positive_at = coalesce(s.positive_at, excluded.positive_at),
           dismissed_at = greatest(s.dismissed_at, excluded.dismissed_at),
           applied_at = coalesce(s.applied_at, excluded.applied_at),
           updated_at = now()`,
        [
          change.userId,
          change.eventId,
          change.weight,
          at,
          change.scaledWeight,
          change.positive ? at : null,
          change.dismissed ? at : null,
          change.applied ? at : null,
        ],
      );
    },

    async addToAffinities(userId, deltas) {
      const features = [...deltas.keys()].sort();
      await trx.raw(
        `insert into user_feature_affinities as a (user_id, feature, value)
         select ?, f.feature, f.value from unnest(?::text[], ?::float8[]) as f(feature, value)
         on conflict (user_id, feature) do update set value = a.value + excluded.value`,
        [userId, features, features.map((f) => deltas.get(f)!)],
      );
    },

    async addToPopularity(eventId, delta, engagedDelta) {
      await trx.raw(
        `insert into event_popularity as p (event_id, value, engaged) values (?, ?, ?)
         on conflict (event_id) do update set value = p.value + excluded.value, engaged = p.engaged + excluded.engaged`,
        [eventId, delta, engagedDelta],
      );
    },

    async addToCooccurrence(eventId, others, delta) {
      // Both directions, in key order, so concurrent writers lock rows in one order (no deadlocks).
      const pairs = others.flatMap((other): [string, string][] => [
        [eventId, other],
        [other, eventId],
      ]);
      pairs.sort(([a1, b1], [a2, b2]) => (a1 === a2 ? b1.localeCompare(b2) : a1.localeCompare(a2)));
      await trx.raw(
        `insert into event_cooccurrence as c (event_id, other_event_id, value)
         select p.a, p.b, ? from unnest(?::uuid[], ?::uuid[]) as p(a, b)
         on conflict (event_id, other_event_id) do update set value = c.value + excluded.value`,
        [delta, pairs.map((p) => p[0]), pairs.map((p) => p[1])],
      );
    },
  };
}

/**
 * Empties the derived tables inside the rebuild's transaction. DELETE, not TRUNCATE: TRUNCATE
 * would lock the feed's readers out until the rebuild commits; DELETE lets them read the old model.
 */
export async function resetModel(trx: Knex.Transaction): Promise<void> {
  for (const table of ['user_event_scores', 'user_feature_affinities', 'event_popularity', 'event_cooccurrence']) {
    await trx.raw('delete from ??', [table]);
  }
}

export async function countInteractions(trx: Knex.Transaction): Promise<number> {
  const { rows } = await trx.raw<{ rows: { n: string }[] }>('select count(*) as n from interactions');
  return Number(rows[0]!.n);
}

/** Every interaction in the order the workers persisted them, a page at a time. */
export async function* interactionsInPersistOrder(trx: Knex.Transaction, pageSize = 2000): AsyncGenerator<ModelInteraction[]> {
  let after: { persistedAt: string; id: string } | undefined;
  for (;;) {
    const { rows } = await trx.raw<{ rows: (ModelInteraction & { id: string; persistedAt: string })[] }>(
      `select id, user_id as "userId", event_id as "eventId", action, created_at as "createdAt", persisted_at::text as "persistedAt"
         from interactions
        ${after ? 'where (persisted_at, id) > (?::timestamptz, ?::uuid)' : ''}
        order by persisted_at, id limit ?`,
      after ? [after.persistedAt, after.id, pageSize] : [pageSize],
    );
    if (rows.length === 0) return;
    yield rows.map(({ userId, eventId, action, createdAt }) => ({ userId, eventId, action, createdAt }));
    const last = rows[rows.length - 1]!;
    after = { persistedAt: last.persistedAt, id: last.id };
  }
}

export async function readModelSettings(db: Knex): Promise<ModelSettings | undefined> {
  const { rows } = await db.raw<{ rows: { settings: ModelSettings }[] }>("select settings from model_state where name = 'scores'");
  return rows[0]?.settings;
}

export async function writeModelSettings(trx: Knex.Transaction, settings: ModelSettings): Promise<void> {
  await trx.raw(
    `insert into model_state (name, settings, built_at) values ('scores', ?::jsonb, now())
     on conflict (name) do update set settings = excluded.settings, built_at = excluded.built_at`,
    [JSON.stringify(settings)],
  );
}
