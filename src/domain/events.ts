import type { Db } from '../data/db';
import { findEvent, insertEvent, type NewEvent } from '../data/events';
import type { EventModel } from '../data/models';
import { ForbiddenError, NotFoundError } from '../errors';
import type { AuthUser } from './auth-user';
import { isUuid } from './ids';
import { spell } from './model';

const EVENT_CREATORS = ['organizer', 'admin'];

/** Only organizers and admins publish events. */
export function assertMayCreateEvents(user: AuthUser): void {
  if (!user.roles.some((role) => EVENT_CREATORS.includes(role))) {
    throw new ForbiddenError('Creating events requires the organizer or admin role');
  }
}

export async function createEvent(db: Db, user: AuthUser, input: Omit<NewEvent, 'organizerId'>): Promise<EventModel> {
  assertMayCreateEvents(user);
  // Categories and tags are matched as features: one spelling each.
  const category = input.category && spell(input.category);
  const tags = input.tags && [...new Set(input.tags.map(spell))];
  return insertEvent(db, { ...input, category, tags, organizerId: user.id });
}

export async function getEvent(db: Db, id: string): Promise<EventModel> {
  const event = isUuid(id) ? await findEvent(db, id) : undefined;
  if (!event) throw new NotFoundError('Event not found', { code: 'event_not_found' });
  return event;
}
