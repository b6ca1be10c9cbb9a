import type { Knex } from 'knex';
import type { Db } from './db';
import { CollectionEventModel, CollectionModel } from './models';

export interface CollectionWithEvents {
  id: string;
  name: string;
  createdAt: Date;
  eventIds: string[];
}

export async function insertCollection(db: Db, userId: string, name: string): Promise<CollectionModel> {
  return CollectionModel.query(db).insertAndFetch({ userId, name });
}

/** The user's collection, or undefined when it does not exist or is someone else's. */
export async function findOwnCollection(db: Db | Knex.Transaction, userId: string, id: string): Promise<CollectionModel | undefined> {
  return CollectionModel.query(db).findOne({ id, userId });
}

export async function listOwnCollections(db: Db, userId: string, ids?: string[]): Promise<CollectionWithEvents[]> {
  const query = CollectionModel.query(db).where({ userId }).orderBy('createdAt').orderBy('id');
  if (ids) query.whereIn('id', ids);
  const collections = await query;
  const entries = collections.length
    ? await CollectionEventModel.query(db)
        .whereIn(
          'collectionId',
          collections.map((c) => c.id),
        )
        .orderBy('addedAt')
    : [];
  return collections.map((c) => ({
    id: c.id,
    name: c.name,
    createdAt: c.createdAt,
    eventIds: entries.filter((e) => e.collectionId === c.id).map((e) => e.eventId),
  }));
}

/** Adds the entry; throws Objection's UniqueViolationError when it is already there. */
export async function insertCollectionEntry(trx: Knex.Transaction, collectionId: string, eventId: string): Promise<CollectionEventModel> {
  return CollectionEventModel.query(trx).insertAndFetch({ collectionId, eventId });
}

export async function deleteCollectionEntry(db: Db, collectionId: string, eventId: string): Promise<number> {
  return CollectionEventModel.query(db).delete().where({ collectionId, eventId });
}
