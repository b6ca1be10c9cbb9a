import {
  countUserCollections,
  deleteCollectionEntry,
  findOwnCollection,
  insertCollection,
  insertCollectionEntry,
  lockUserCollections,
  pageCollectionEvents,
  pageOwnCollections,
  type CollectionEntry,
  type CollectionSummary,
} from '../data/collections';
import type { Db } from '../data/db';
import { findEvent } from '../data/events';
import type { CollectionEventModel } from '../data/models';
import { ConflictError, conflictOnDuplicate, NotFoundError } from '../errors';
import { isUuid } from './ids';
import { decodePosition, toPage, type Page } from './page-cursor';
import { recordInteractionInTransaction } from './record-interaction';

export interface TransactionalDeps {
  db: Db;
  /** Told after a commit that wrote to the outbox, so the interaction is relayed at once. */
  relay: { kick(): void };
}

/** What one user may keep (COLLECTIONS_PER_USER_MAX, COLLECTION_EVENTS_PER_USER_MAX). */
export interface CollectionLimits {
  collectionsPerUser: number;
  eventsPerUser: number;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

// Someone else's collection is "not found": its existence is not revealed.
const collectionNotFound = () => new NotFoundError('Collection not found', { code: 'collection_not_found' });
const limitReached = (message: string) => new ConflictError(message, { code: 'limit_reached' });

export async function createCollection(
  deps: { db: Db; limits: CollectionLimits },
  userId: string,
  name: string,
): Promise<CollectionSummary> {
  const collection = await deps.db.transaction(async (trx) => {
    await lockUserCollections(trx, userId);
    const { collections } = await countUserCollections(trx, userId);
    if (collections >= deps.limits.collectionsPerUser) {
      throw limitReached(`A user may keep at most ${deps.limits.collectionsPerUser} collections`);
    }
    return insertCollection(trx, userId, name);
  });
  return { id: collection.id, name: collection.name, createdAt: collection.createdAt, eventCount: 0, eventIds: [] };
}

/** The user's collections, oldest first, a page at a time. */
export async function listCollections(db: Db, userId: string, page: PageRequest): Promise<Page<CollectionSummary>> {
  const after = page.cursor ? decodePosition(page.cursor) : undefined;
  return toPage(await pageOwnCollections(db, userId, { limit: page.limit + 1, after }), page.limit);
}

export async function getCollection(db: Db, userId: string, id: string): Promise<CollectionSummary> {
  const [found] = isUuid(id) ? await pageOwnCollections(db, userId, { limit: 1, id }) : [];
  if (!found) throw collectionNotFound();
  const { position: _, ...collection } = found;
  return collection;
}

/** The events of the user's collection, newest first, a page at a time. */
export async function listCollectionEvents(db: Db, userId: string, id: string, page: PageRequest): Promise<Page<CollectionEntry>> {
  const after = page.cursor ? decodePosition(page.cursor) : undefined;
  const rows = isUuid(id) ? await pageCollectionEvents(db, userId, id, { limit: page.limit + 1, after }) : undefined;
  if (!rows) throw collectionNotFound();
  return toPage(rows, page.limit);
}

/**
 * Adds the event to the user's collection and records a SAVE (source `collection`) in the same
 * transaction; 409 limit_reached when the user already keeps as many events as they may.
 */
export async function addEventToCollection(
  deps: TransactionalDeps & { limits: CollectionLimits },
  userId: string,
  collectionId: string,
  eventId: string,
): Promise<CollectionEventModel> {
  if (!isUuid(collectionId)) throw collectionNotFound();
  if (!isUuid(eventId)) throw new NotFoundError('Event not found', { code: 'event_not_found' });
  const entry = await deps.db.transaction(async (trx) => {
    await lockUserCollections(trx, userId);
    if (!(await findOwnCollection(trx, userId, collectionId))) throw collectionNotFound();
    if (!(await findEvent(trx, eventId))) throw new NotFoundError('Event not found', { code: 'event_not_found' });
    const added = await insertCollectionEntry(trx, collectionId, eventId).catch(
      conflictOnDuplicate('The event is already in this collection', 'already_in_collection'),
    );
    // Counted with the new entry, so that one already there is a 409 of its own kind, not this one.
    if ((await countUserCollections(trx, userId)).events > deps.limits.eventsPerUser) {
      throw limitReached(`A user may keep at most ${deps.limits.eventsPerUser} events across their collections`);
    }
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
