import { Router } from 'express';
import type { CollectionSummary } from '../../data/collections';
import {
  addEventToCollection,
  createCollection,
  getCollection,
  listCollectionEvents,
  listCollections,
  removeEventFromCollection,
} from '../../domain/collections';
import { readBy } from '../../ops/deadline';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { jsonBody } from '../json-body';
import { idParam, parseInput } from '../validate';
import { type collectionResponse, type Json, newCollectionBody, newEntryBody, pageQuery } from '../schemas';

export function collectionsRouter({ db, outboxRelay, config }: Pick<AppDeps, 'db' | 'outboxRelay' | 'config'>): Router {
  const router = Router();
  const limits = config.collectionLimits;

  router.post('/collections', ...jsonBody, async (req, res) => {
    const { name } = parseInput(newCollectionBody, req.body);
    const collection = await createCollection({ db, limits }, currentUser(req).id, name);
    res
      .status(201)
      .location(`/collections/${collection.id}`)
      .json({ id: collection.id, name: collection.name, createdAt: collection.createdAt.toISOString() });
  });

  router.get('/collections', async (req, res) => {
    const page = await readBy(listCollections(db, currentUser(req).id, parseInput(pageQuery, req.query)), req.deadline);
    res.json({ items: page.items.map(toJson), nextCursor: page.nextCursor });
  });

  router.get('/collections/:id', async (req, res) => {
    res.json(toJson(await readBy(getCollection(db, currentUser(req).id, idParam(req, 'id')), req.deadline)));
  });

  router.get('/collections/:id/events', async (req, res) => {
    const page = await readBy(
      listCollectionEvents(db, currentUser(req).id, idParam(req, 'id'), parseInput(pageQuery, req.query)),
      req.deadline,
    );
    res.json({
      items: page.items.map((entry) => ({ eventId: entry.eventId, addedAt: entry.addedAt.toISOString() })),
      nextCursor: page.nextCursor,
    });
  });

  router.post('/collections/:id/events', ...jsonBody, async (req, res) => {
    const { eventId } = parseInput(newEntryBody, req.body);
    const entry = await addEventToCollection({ db, relay: outboxRelay, limits }, currentUser(req).id, idParam(req, 'id'), eventId);
    res.status(201).json({ collectionId: entry.collectionId, eventId: entry.eventId, addedAt: entry.addedAt.toISOString() });
  });

  router.delete('/collections/:id/events/:eventId', async (req, res) => {
    await removeEventFromCollection(db, currentUser(req).id, idParam(req, 'id'), idParam(req, 'eventId'));
    res.status(204).end();
  });

  return router;
}

function toJson(collection: CollectionSummary): Json<typeof collectionResponse> {
  return {
    id: collection.id,
    name: collection.name,
    createdAt: collection.createdAt.toISOString(),
    eventCount: collection.eventCount,
    eventIds: collection.eventIds,
  };
}
