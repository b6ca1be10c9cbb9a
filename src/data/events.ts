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

/**
 * `eventExists` with memory: an event seen to exist is taken to exist for `ttlMs` more, which spares
 * a query per interaction. Only "exists" is remembered, so a new event is found at once; an event
 * removed from the database is refused again within `ttlMs` (an interaction accepted meanwhile is
 * recorded, as one accepted just before the removal would be). Lookups of one event at the same
 * time share one query.
 */
export function cachedEventExists(db: Db, ttlMs: number, maxEntries = 100_000): (id: string) => Promise<boolean> {
  const seen = new Map<string, number>(); // id → when the answer expires; oldest first
  const inFlight = new Map<string, Promise<boolean>>();
  return async (id) => {
    const expires = seen.get(id);
    if (expires !== undefined && expires > Date.now()) return true;
    let lookup = inFlight.get(id);
    if (!lookup) {
      lookup = eventExists(db, id).finally(() => inFlight.delete(id));
      inFlight.set(id, lookup);
    }
    const exists = await lookup;
    seen.delete(id);
    if (exists && ttlMs > 0) {
      seen.set(id, Date.now() + ttlMs);
      if (seen.size > maxEntries) seen.delete(seen.keys().next().value!);
    }
    return exists;
  };
}
