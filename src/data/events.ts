import type { Db } from './db';
import { EventModel, type EventKind } from './models';

export interface NewEvent {
  title: string;
  startsAt: Date;
  kind: EventKind;
  category?: string | null;
  tags?: string[];
  city?: string | null;
  ticketUrl?: string | null;
  organizerId: string;
}

export async function insertEvent(db: Db, event: NewEvent): Promise<EventModel> {
  return EventModel.query(db).insertAndFetch({ tags: [], ...event });
}

export async function findEvent(db: Db, id: string): Promise<EventModel | undefined> {
  return EventModel.query(db).findById(id);
}

export async function eventExists(db: Db, id: string): Promise<boolean> {
  const row = await EventModel.query(db).findById(id).select('id');
  return row !== undefined;
}
