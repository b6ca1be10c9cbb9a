import type { Knex } from 'knex';
import type { InteractionSource } from './models';
import type { Action } from '../domain/weights';
import type { ModelInteraction } from '../domain/model';

export interface InteractionRow {
  id: string;
  userId: string;
  eventId: string;
  action: Action;
  source: InteractionSource;
  /** ISO 8601 with microseconds: when the interaction was accepted. */
  createdAt: string;
  /** ISO 8601: when the user acted (the acceptance time when the client sent none). */
  occurredAt: string;
  /** The feed ranking the client said the interaction came from. */
  recommendationId: string | null;
}

/**
 * Inserts the rows, skipping any whose id is already there, in one statement. Returns the rows this
 * call inserted, in the order they were persisted: the order in which they must be applied to the
 * model, and in which a rebuild replays them.
 *
 * The key is (id, created_at), as partitions on created_at need. A redelivered job carries the same
 * id and time, and conflicts. A client's retry with the same Idempotency-Key carries the same id
 * (a UUIDv5, derived from the user and the key) with a later time, so those ids are looked up;
 * the caller holds the users' locks, so two such retries cannot both miss each other.
 */
export async function insertInteractions(trx: Knex.Transaction, rows: InteractionRow[]): Promise<(ModelInteraction & { id: string })[]> {
  if (rows.length === 0) return [];
  // clock_timestamp(), not now(): taken per row after the users' locks, it orders one user's rows as
  // they are applied to the model. created_at is bound as text, so its microseconds survive.
  const { rows: inserted } = await trx.raw<{ rows: (ModelInteraction & { id: string })[] }>(
    `with inserted as (
       insert into interactions (id, user_id, event_id, action, source, created_at, occurred_at, recommendation_id, persisted_at)
       select id, user_id, event_id, action, source, created_at, occurred_at, recommendation_id, clock_timestamp()
         from unnest(?::uuid[], ?::text[], ?::uuid[], ?::text[], ?::text[], ?::timestamptz[], ?::timestamptz[], ?::text[]) with ordinality
              as r(id, user_id, event_id, action, source, created_at, occurred_at, recommendation_id, n)
        -- The version digit: 5 for ids made from an Idempotency-Key.
        where not (substr(r.id::text, 15, 1) = '5' and exists (select 1 from interactions i where i.id = r.id))
        order by n
       on conflict (id, created_at) do nothing
       returning id, user_id, event_id, action, occurred_at, persisted_at
     )
     select id, user_id as "userId", event_id as "eventId", action, occurred_at as "occurredAt"
       from inserted order by persisted_at, id`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.userId),
      rows.map((r) => r.eventId),
      rows.map((r) => r.action),
      rows.map((r) => r.source),
      rows.map((r) => r.createdAt),
      rows.map((r) => r.occurredAt),
      rows.map((r) => r.recommendationId) as string[], // null where none: an SQL NULL in the array
    ],
  );
  return inserted;
}
