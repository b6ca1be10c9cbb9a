import { Router } from 'express';
import { z } from 'zod';
import type { EventModel } from '../../data/models';
import { assertMayCreateEvents, createEvent, getEvent } from '../../domain/events';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { jsonBody } from '../json-body';
import { idParam, parseInput, storableText } from '../validate';

const text = storableText;

const newEventBody = z.object(
  {
    title: text(200),
    startsAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).transform((s) => new Date(s)),
    kind: z.enum(['event', 'gig'], { error: 'must be "event" or "gig"' }),
    category: text(100).nullish(),
    tags: z.array(text(50)).max(20, 'must have at most 20 tags').optional(),
    city: text(100).nullish(),
    ticketUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2000)
      .nullish(),
  },
  { error: 'The body must be a JSON object' },
);

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

function toEventJson(event: EventModel) {
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
