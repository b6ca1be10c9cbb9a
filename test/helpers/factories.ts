import { insertEvent, type NewEvent } from '../../src/data/events';
import type { EventModel } from '../../src/data/models';
import type { Db } from '../../src/data/db';

let counter = 0;

/** An upcoming event; override any field. */
export async function buildEvent(db: Db, overrides: Partial<NewEvent> = {}): Promise<EventModel> {
  counter += 1;
  return insertEvent(db, {
    title: `Test event ${counter}`,
    startsAt: new Date(Date.now() + 7 * 24 * 60 * 60 * 1000),
    kind: 'event',
    category: 'jazz',
    tags: ['live'],
    city: 'Berlin',
    organizerId: 'organizer-1',
    ...overrides,
  });
}
