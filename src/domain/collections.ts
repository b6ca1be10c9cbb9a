import {
  deleteCollectionEntry,
  findOwnCollection,
  insertCollection,
  insertCollectionEntry,
  listOwnCollections,
  type CollectionWithEvents,
} from '../data/collections';
import type { Db } from '../data/db';
import { findEvent } from '../data/events';
import type { CollectionEventModel } from '../data/models';
import { conflictOnDuplicate, NotFoundError } from '../errors';
import { isUuid } from './ids';
import { recordInteractionInTransaction } from './record-interaction';

export interface TransactionalDeps {
  db: Db;
  /** Told after a commit that wrote to the outbox, so the interaction is relayed at once. */
  relay: { kick(): void };
}

// Someone else's collection is "not found": its existence is not revealed.
const collectionNotFound = () => new NotFoundError('Collection not found', { code: 'collection_not_found' });

export async function createCollection(db: Db, userId: string, name: string): Promise<CollectionWithEvents> {
  const collection = await insertCollection(db, userId, name);
  return { id: collection.id, name: collection.name, createdAt: collection.createdAt, eventIds: [] };
}

export async function listCollections(db: Db, userId: string): Promise<CollectionWithEvents[]> {
  return listOwnCollections(db, userId);
}

export async function getCollection(db: Db, userId: string, id: string): Promise<CollectionWithEvents> {
  const [collection] = isUuid(id) ? await listOwnCollections(db, userId, [id]) : [];
  if (!collection) throw collectionNotFound();
  return collection;
}

/** Adds the event to the user's collection and records a SAVE (source `collection`) in the same transaction. */
export async function addEventToCollection(
  deps: TransactionalDeps,
  userId: string,
  collectionId: string,
  eventId: string,
): Promise<CollectionEventModel> {
  if (!isUuid(collectionId)) throw collectionNotFound();
  if (!isUuid(eventId)) throw new NotFoundError('Event not found', { code: 'event_not_found' });
  const entry = await deps.db.transaction(async (trx) => {
    if (!(await findOwnCollection(trx, userId, collectionId))) throw collectionNotFound();
    if (!(await findEvent(trx, eventId))) throw new NotFoundError('Event not found', { code: 'event_not_found' });
    const added = await insertCollectionEntry(trx, collectionId, eventId).catch(
      conflictOnDuplicate('The event is already in this collection', 'already_in_collection'),
    );
    await recordInteractionInTransaction(trx, { userId, eventId, action: 'SAVE', source: 'collection' });
    return added;
  });
  deps.relay.kick();
  return entry;
}

/** Removes the entry; the SAVE it recorded stays (interactions are never deleted). */
export async function removeEventFromCollection(db: Db, userId: string, collectionId: string, eventId: string): Promise<void> {
  if (!isUuid(collectionId) || !(await findOwnCollection(db, userId, collectionId))) throw collectionNotFound();
  if (isUuid(eventId)) await deleteCollectionEntry(db, collectionId, eventId);
}
