import { Router } from 'express';
import type { EventModel } from '../../data/models';
import { assertMayCreateEvents, createEvent, getEvent } from '../../domain/events';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { jsonBody } from '../json-body';
import { idParam, parseInput } from '../validate';
import { type eventResponse, type Json, newEventBody } from '../schemas';

export function eventsRouter({ db }: Pick<AppDeps, 'db'>): Router {
  const router = Router();

  router.post('/events', ...jsonBody, async (req, res) => {
    const user = currentUser(req);
    assertMayCreateEvents(user); // before validation: a caller without the role learns nothing of the schema
    const input = parseInput(newEventBody, req.body);
    const event = await createEvent(db, user, input);
    res.status(201).location(`/events/${event.id}`).json(toEventJson(event));
  });

  router.get('/events/:id', async (req, res) => {
    res.json(toEventJson(await getEvent(db, idParam(req, 'id'))));
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
