import { Router } from 'express';
import type { EventModel } from '../../data/models';
import { assertMayCreateEvents, createEvent, getEvent } from '../../domain/events';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { jsonBody } from '../json-body';
import { idParam, parseInput } from '../validate';
import { type eventResponse, type Json, newEventBody, similarQuery, type similarItem } from '../schemas';
import { beforeDeadline, readBy } from '../../ops/deadline';
import { assignVariant } from '../../feed/experiment';
import { getSimilarEvents } from '../../feed/similar';

export function eventsRouter({
  db,
  feedDb,
  config,
  feedEvents,
  rankingCache,
  eventExists,
}: Pick<AppDeps, 'db' | 'feedDb' | 'config' | 'feedEvents' | 'rankingCache' | 'eventExists'>): Router {
  const router = Router();
  const similarDeps = {
    db: feedDb,
    primary: feedDb === db ? undefined : { db, has: eventExists },
    events: feedEvents,
    hidden: (userId: string) => rankingCache.hidden(userId),
    preparedStatements: config.databasePreparedStatements,
  };

  router.post('/events', ...jsonBody, async (req, res) => {
    const user = currentUser(req);
    assertMayCreateEvents(user); // before validation: a caller without the role learns nothing of the schema
    const input = parseInput(newEventBody, req.body);
    const event = await createEvent(db, user, input);
    res.status(201).location(`/events/${event.id}`).json(toEventJson(event));
  });

  router.get('/events/:id', async (req, res) => {
    res.json(toEventJson(await readBy(getEvent(db, idParam(req, 'id')), req.deadline)));
  });

  router.get('/events/:id/similar', async (req, res) => {
    const { limit } = parseInput(similarQuery, req.query);
    const userId = currentUser(req).id;
    const ranking = assignVariant(config.feedVariants, userId).ranking;
    const items = await beforeDeadline(getSimilarEvents({ ...similarDeps, ranking }, userId, idParam(req, 'id'), limit), req.deadline);
    res.json({
      items: items.map(({ eventId, score, reasons, event }): Json<typeof similarItem> => ({
        eventId,
        score,
        reasons,
        event: { ...event, startsAt: event.startsAt.toISOString() },
      })),
    });
  });

  return router;
}

function toEventJson(event: EventModel): Json<typeof eventResponse> {
  return {
    id: event.id,
    title: event.title,
    startsAt: event.startsAt.toISOString(),
    kind: event.kind,
    category: event.category,
    tags: event.tags,
    city: event.city,
    ticketUrl: event.ticketUrl,
    organizerId: event.organizerId,
    createdAt: event.createdAt.toISOString(),
  };
}
