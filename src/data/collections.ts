import type { Knex } from 'knex';
import type { Db } from './db';
import { raw } from 'objection';
import { CollectionEventModel, CollectionModel } from './models';

/** How many of a collection's latest event ids come with it; the rest are paged (listCollectionEvents). */
export const LATEST_EVENT_IDS = 100;

/** A place in a list ordered by time then id: the time in µs since the epoch, exact, as PostgreSQL keeps it. */
export interface Position {
  atMicros: string;
  id: string;
}

export interface CollectionSummary {
  id: string;
  name: string;
  createdAt: Date;
  eventCount: number;
  /** The latest LATEST_EVENT_IDS event ids, in the order they were added. */
  eventIds: string[];
}

export interface CollectionEntry {
  eventId: string;
  addedAt: Date;
}

type Conn = Db | Knex.Transaction;

const micros = (column: string) => `(extract(epoch from ${column}) * 1000000)::bigint::text`;
const fromMicros = `(timestamptz 'epoch' + ?::bigint * interval '1 microsecond')`;

/**
 * The user's collections after `after` (or from the first), oldest first, at most `limit`, with
 * their event counts and latest event ids: one statement, each part an index walk bounded by the
 * limits on what a user may keep.
 */
export async function pageOwnCollections(
  db: Conn,
  userId: string,
  page: { limit: number; after?: Position; id?: string },
): Promise<(CollectionSummary & { position: Position })[]> {
  const bindings: (string | number)[] = [LATEST_EVENT_IDS, userId];
  let where = '';
  if (page.id) {
    where += ' and c.id = ?';
    bindings.push(page.id);
  }
  if (page.after) {
    where += ` and (c.created_at, c.id) > (${fromMicros}, ?::uuid)`;
    bindings.push(page.after.atMicros, page.after.id);
  }
  bindings.push(page.limit);
  const { rows } = await db.raw<{ rows: (CollectionSummary & { atMicros: string })[] }>(
    `select c.id, c.name, c.created_at as "createdAt", ${micros('c.created_at')} as "atMicros",
            (select count(*)::int from collection_events e where e.collection_id = c.id) as "eventCount",
            array(select latest.event_id::text
                    from (select e.event_id, e.added_at from collection_events e where e.collection_id = c.id
                           order by e.added_at desc, e.event_id desc limit ?) latest
                   order by latest.added_at, latest.event_id) as "eventIds"
       from collections c
      where c.user_id = ?${where}
      order by c.created_at, c.id
      limit ?`,
    bindings,
  );
  return rows.map(({ atMicros, ...collection }) => ({ ...collection, position: { atMicros, id: collection.id } }));
}

/**
 * The events of the user's collection, newest first, after `after`; undefined when the collection
 * is not theirs. One statement.
 */
export async function pageCollectionEvents(
  db: Conn,
  userId: string,
  collectionId: string,
  page: { limit: number; after?: Position },
): Promise<(CollectionEntry & { position: Position })[] | undefined> {
  const bindings: (string | number)[] = [];
  let where = '';
  if (page.after) {
    where = ` and (e.added_at, e.event_id) < (${fromMicros}, ?::uuid)`;
    bindings.push(page.after.atMicros, page.after.id);
  }
  bindings.push(page.limit, collectionId, userId);
  const { rows } = await db.raw<{ rows: { eventId: string | null; addedAt: Date | null; atMicros: string | null }[] }>(
    `select e.event_id as "eventId", e.added_at as "addedAt", ${micros('e.added_at')} as "atMicros"
       from collections c
       left join lateral (select e.event_id, e.added_at from collection_events e
                           where e.collection_id = c.id${where}
                           order by e.added_at desc, e.event_id desc limit ?) e on true
      where c.id = ? and c.user_id = ?
      order by e.added_at desc, e.event_id desc`,
    bindings,
  );
  if (rows.length === 0) return undefined;
  return rows
    .filter((row) => row.eventId !== null)
    .map((row) => ({ eventId: row.eventId!, addedAt: row.addedAt!, position: { atMicros: row.atMicros!, id: row.eventId! } }));
}

/**
 * When a row of a user's collections is written: the clock when the statement runs, under the
 * user's lock (lockUserCollections), not when the transaction began (now()). Keys then follow the
 * order the changes commit in: a client paging the collections (oldest first) never passes one
 * that commits later with an earlier key, as one whose transaction waited for the lock would have;
 * a collection's events keep the order they were added in.
 */
const writtenAt = () => raw('clock_timestamp()');

export async function insertCollection(db: Conn, userId: string, name: string): Promise<CollectionModel> {
  return CollectionModel.query(db).insertAndFetch({ userId, name, createdAt: writtenAt() });
}

/** The user's collection, or undefined when it does not exist or is someone else's. */
export async function findOwnCollection(db: Conn, userId: string, id: string): Promise<CollectionModel | undefined> {
  return CollectionModel.query(db).findOne({ id, userId });
}

// Advisory lock namespace of users' collections (the model's are 73_001 and 73_002).
const COLLECTIONS_LOCK = 73_003;

/**
 * Serialises changes to one user's collections until the transaction ends, so that counting them
 * against the limits and then adding cannot race.
 */
export async function lockUserCollections(trx: Knex.Transaction, userId: string): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(?, hashtext(?))', [COLLECTIONS_LOCK, userId]);
}

/** How many collections the user has, and how many events across them. */
export async function countUserCollections(db: Conn, userId: string): Promise<{ collections: number; events: number }> {
  const { rows } = await db.raw<{ rows: { collections: number; events: number }[] }>(
    `select (select count(*)::int from collections where user_id = ?) as collections,
            (select count(*)::int from collection_events e join collections c on c.id = e.collection_id where c.user_id = ?) as events`,
    [userId, userId],
  );
  return rows[0]!;
}

/** Adds the entry; throws Objection's UniqueViolationError when it is already there. */
export async function insertCollectionEntry(trx: Knex.Transaction, collectionId: string, eventId: string): Promise<CollectionEventModel> {
  return CollectionEventModel.query(trx).insertAndFetch({ collectionId, eventId, addedAt: writtenAt() });
}

export async function deleteCollectionEntry(db: Db, collectionId: string, eventId: string): Promise<number> {
  return CollectionEventModel.query(db).delete().where({ collectionId, eventId });
}
