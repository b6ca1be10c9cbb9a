import { insertEvent, type NewEvent } from '../../src/data/events';
import type { EventModel } from '../../src/data/models';
import type { Db } from '../../src/data/db';
import { v7 as uuidv7 } from 'uuid';
import type { Action } from '../../src/domain/weights';
import { JOBS } from '../../src/jobs/definitions';
import type { Producer } from '../../src/jobs/producer';
import type { RecordInteractionPayload } from '../../src/jobs/definitions';

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

/** The payload of an interaction as the API queues it (acceptance time with microseconds). */
export function interactionPayload(userId: string, eventId: string, action: Action, acceptedAt = new Date(), id = uuidv7()) {
  return { id, userId, eventId, action, source: 'api' as const, acceptedAt: acceptedAt.toISOString().replace('Z', '000Z') };
}

/** The job the service queues to record interactions (a batch of one or more), signed as its producer signs. */
export function recordingJob(producer: Pick<Producer, 'signed'>, ...interactions: RecordInteractionPayload[]) {
  return { name: JOBS.recordInteractions, data: producer.signed(JOBS.recordInteractions, { interactions }) };
}
