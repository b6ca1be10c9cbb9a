import { readBy } from '../ops/deadline';
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

/**
 * Which of `ids` are events, in one query per CHECK_CHUNK ids; a 503 past `timeoutMs`. A query on a
 * connection to a server that is gone (an old primary after a failover) may never answer: callers
 * waiting on it are let go, and the next lookup asks again, on another connection.
 */
function existingEvents(db: Db, ids: readonly string[], timeoutMs = LOOKUP_TIMEOUT_MS): Promise<Set<string>> {
  return readBy(queryEvents(db, ids), Date.now() + timeoutMs);
}

async function queryEvents(db: Db, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let at = 0; at < ids.length; at += CHECK_CHUNK) {
    const rows = await db('events')
      .select<{ id: string }[]>('id')
      .whereRaw('id = any(?::uuid[])', [ids.slice(at, at + CHECK_CHUNK)]);
    for (const row of rows) found.add(row.id);
  }
  return found;
}

const CHECK_CHUNK = 5000;
/** Longest a lookup is waited for: past any request's deadline, so no request is answered by it. */
const LOOKUP_TIMEOUT_MS = 5_000;
/**
 * How long an event no one asks for stays confirmed in the background (see cachedEventExists): long
 * enough that an event of the long tail, asked for every few minutes, is not asked of the database
 * each time it comes back (under load, a query per turn of the event loop).
 */
const KEEP_CONFIRMING_MS = 600_000;
/** Below this time to live, events are not confirmed in the background: rounds would run back to back. */
const MIN_CONFIRMED_TTL_MS = 1000;

/**
 * `eventExists` with memory, for the API's hot path: an event the database confirmed to exist less
 * than `ttlMs` ago is taken to exist without a query. Only "exists" is remembered, so a new event is
 * found at once; an event removed from the database is refused again within `ttlMs` (an interaction
 * accepted meanwhile is recorded, as one accepted just before the removal would be).
 *
 * Queries are few whatever the traffic: the events asked for in one turn of the event loop that are
 * not remembered share one query, and those asked for in the last KEEP_CONFIRMING_MS are confirmed
 * again together, in one query (per CHECK_CHUNK) every `ttlMs / 2`, one round at a time, before
 * they expire; an event on its way from the database is asked for once. Asking the
 * database per event as it expired cost hundreds of queries a second under load, a tenth of the
 * API's CPU. `preload()` remembers the events around now (at most `maxEntries`, soonest first) as
 * if each had just been asked for: a process that starts under traffic does not ask for every
 * event of the catalogue as it first meets it.
 */
export function cachedEventExists(db: Db, ttlMs: number, maxEntries = 100_000, lookupTimeoutMs = LOOKUP_TIMEOUT_MS): EventExists {
  const confirmed = new Map<string, number>(); // id → when the database last said it exists; oldest first
  const used = new Map<string, number>(); // remembered id → when it was last asked for
  let lastRound = Date.now();
  let batch: { ids: Set<string>; found: Promise<Set<string>> } | undefined;
  const asking = new Map<string, Promise<boolean>>(); // id → the database's answer on its way
  // Below a second of memory, rounds would run back to back: lookups just ask.
  const rounds = ttlMs >= MIN_CONFIRMED_TTL_MS;
  let confirming = false;

  const remember = (id: string, at: number) => {
    confirmed.delete(id);
    confirmed.set(id, at);
    if (confirmed.size > maxEntries) confirmed.delete(confirmed.keys().next().value!);
  };

  /** Confirms the remembered events in use again; those gone are forgotten. */
  const confirmInUse = async (now: number) => {
    const ids: string[] = [];
    for (const [id, usedAt] of used) {
      if (usedAt > now - KEEP_CONFIRMING_MS && confirmed.has(id)) ids.push(id);
      else used.delete(id);
    }
    const at = Date.now(); // before the query: what it finds was there at least since then
    const found = await existingEvents(db, ids, lookupTimeoutMs);
    for (const id of ids) {
      if (found.has(id)) remember(id, at);
      else confirmed.delete(id);
    }
  };

  /** The database's answer for `id`, asked together with the others of this turn, once at a time. */
  const ask = (id: string): Promise<boolean> => {
    const asked = asking.get(id);
    if (asked) return asked;
    if (!batch) {
      const ids = new Set<string>();
      const found = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        batch = undefined;
        const at = Date.now();
        return existingEvents(db, [...ids], lookupTimeoutMs).then((found) => {
          if (ttlMs > 0) {
            for (const id of found) {
              remember(id, at);
              if (rounds) used.set(id, at);
            }
          }
          return found;
        });
      });
      batch = { ids, found };
    }
    batch.ids.add(id);
    const answer = batch.found.then((found) => found.has(id)).finally(() => asking.delete(id));
    asking.set(id, answer);
    return answer;
  };

  const preload = async () => {
    if (ttlMs === 0 || !rounds) return 0;
    const at = Date.now();
    const rows = await db('events')
      .select<{ id: string }[]>('id')
      .where('starts_at', '>', new Date(at - PRELOAD_STARTED_WITHIN_MS))
      .orderBy('starts_at')
      .limit(maxEntries);
    for (const { id } of rows) {
      if (!confirmed.has(id)) remember(id, at);
      if (!used.has(id)) used.set(id, at);
    }
    return rows.length;
  };

  const exists = async (given: string) => {
    const id = given.toLowerCase(); // as PostgreSQL writes a uuid
    const now = Date.now();
    if (rounds && !confirming && used.size > 0 && now - lastRound >= ttlMs / 2) {
      lastRound = now;
      confirming = true;
      confirmInUse(now)
        .catch(() => undefined) // those not confirmed expire, and are asked for again
        .finally(() => (confirming = false));
    }
    const at = confirmed.get(id);
    if (at === undefined || at + ttlMs <= now) return ask(id);
    if (rounds) used.set(id, now);
    return true;
  };
  return Object.assign(exists, { preload });
}

/** Whether an event exists (cachedEventExists), and a way to remember the events around now at once. */
export type EventExists = ((id: string) => Promise<boolean>) & { preload?(): Promise<number> };

/** Events that started longer ago than this are not preloaded: interactions come mostly before and during an event. */
const PRELOAD_STARTED_WITHIN_MS = 86_400_000;
