import type { EventFeatures } from '../src/domain/model';
import { ACTIONS, type Action } from '../src/domain/weights';
import type { Db } from '../src/data/db';
import { parseCsv, parseTimestamp, readCsv } from './csv';

export interface EvalInteraction {
  userId: string;
  eventId: string;
  action: Action;
  at: Date;
}

export interface EvalData {
  interactions: EvalInteraction[];
  events: Map<string, EventFeatures>;
  /** Lines that could not be read, with why. */
  skipped: string[];
  /** Exact repeats of an earlier line (same user, event, action and time), dropped. */
  duplicates: number;
}

const EVENT_COLUMNS = ['event_id', 'category', 'tags', 'city'] as const;
const INTERACTION_COLUMNS = ['user_id', 'event_id', 'action', 'timestamp'] as const;

/** Accumulates the rows of the two CSV files into EvalData. */
class EvalDataBuilder {
  readonly data: EvalData = { interactions: [], events: new Map(), skipped: [], duplicates: 0 };
  private readonly seen = new Set<string>();

  event(values: Record<string, string>): void {
    const tags = (values.tags ?? '')
      .split('|')
      .map((t) => t.trim())
      .filter(Boolean);
    this.data.events.set(values.event_id!, {
      category: values.category || null,
      tags,
      city: values.city || null,
      organizerId: '',
      kind: '',
    });
  }

  interaction(line: number, values: Record<string, string>): void {
    const action = (values.action ?? '').toUpperCase() as Action;
    const at = parseTimestamp(values.timestamp ?? '');
    if (!values.user_id || !values.event_id) this.data.skipped.push(`interactions line ${line}: no user or event`);
    else if (!ACTIONS.includes(action)) this.data.skipped.push(`interactions line ${line}: unknown action "${values.action}"`);
    else if (!at) this.data.skipped.push(`interactions line ${line}: unreadable timestamp "${values.timestamp}"`);
    else {
      // An exact repeat would let the held-out interaction also sit in the training data.
      const key = `${values.user_id}\u0000${values.event_id}\u0000${action}\u0000${at.getTime()}`;
      if (this.seen.has(key)) this.data.duplicates += 1;
      else {
        this.seen.add(key);
        this.data.interactions.push({ userId: values.user_id, eventId: values.event_id, action, at });
      }
    }
  }
}

/** Reads the two CSV texts: `user_id,event_id,action,timestamp` and `event_id,category,tags,city`. */
export function parseEvalData(interactionsCsv: string, eventsCsv: string): EvalData {
  const builder = new EvalDataBuilder();
  for (const { values } of parseCsv(eventsCsv, EVENT_COLUMNS)) builder.event(values);
  for (const { line, values } of parseCsv(interactionsCsv, INTERACTION_COLUMNS)) builder.interaction(line, values);
  return builder.data;
}

/** The same, streaming the files (real datasets run to hundreds of megabytes). */
export async function readEvalFiles(interactionsPath: string, eventsPath: string): Promise<EvalData> {
  const builder = new EvalDataBuilder();
  for await (const { values } of readCsv(eventsPath, EVENT_COLUMNS)) builder.event(values);
  for await (const { line, values } of readCsv(interactionsPath, INTERACTION_COLUMNS)) builder.interaction(line, values);
  return builder.data;
}

/** A small seeded generator (mulberry32), so negatives are sampled the same way every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first and last instants of the data. */
export function timeSpan(data: EvalData): { first: Date; last: Date } {
  let first = Infinity;
  let last = -Infinity;
  for (const { at } of data.interactions) {
    first = Math.min(first, at.getTime());
    last = Math.max(last, at.getTime());
  }
  return { first: new Date(first), last: new Date(last) };
}

/**
 * How many times a log's span must be shortened to fit a replay through the API that accepts
 * `occurredAt` up to `days` old (INTERACTION_MAX_AGE_DAYS), with a margin for the replay's own
 * duration: into `days` − 5, or 90 % of `days` when that is longer. 1 when it fits already.
 */
export function squeezeFactor(first: Date, last: Date, days: number): number {
  return Math.max(1, (last.getTime() - first.getTime()) / (Math.max(days * 0.9, days - 5) * 86_400_000));
}

/** The data with its span shortened `factor` times towards its last instant, as a replay through the API has it. */
export function squeezed(data: EvalData, factor: number): EvalData {
  if (factor === 1) return data;
  const last = timeSpan(data).last.getTime();
  return { ...data, interactions: data.interactions.map((i) => ({ ...i, at: new Date(last - (last - i.at.getTime()) / factor) })) };
}

/** Rows read from the database per query. */
const DB_BATCH = 50_000;

/**
 * The platform's own data, from the database (the read replica, when the caller passes it): every
 * event, and the interactions that happened in the last `sinceDays` days (all, without it), read
 * in batches in the order they happened. `progress` is told how many interactions are read so far.
 */
export async function readEvalDatabase(
  db: Db,
  options: { sinceDays?: number; progress?: (read: number, total: number) => void } = {},
): Promise<EvalData> {
  const builder = new EvalDataBuilder();
  const events: { id: string; category: string | null; tags: string[]; city: string | null }[] = await db('events').select(
    'id',
    'category',
    'tags',
    'city',
  );
  for (const e of events) builder.event({ event_id: e.id, category: e.category ?? '', tags: e.tags.join('|'), city: e.city ?? '' });
  const since = options.sinceDays === undefined ? new Date(0) : new Date(Date.now() - options.sinceDays * 86_400_000);
  const [counted] = await db('interactions').where('occurredAt', '>=', since).count({ total: '*' });
  const total = Number(counted?.total ?? 0);
  // The cursor keeps occurred_at as PostgreSQL's text: a Date would drop its microseconds.
  let after: { at: string; id: string } | undefined;
  let read = 0;
  for (;;) {
    const query = db('interactions')
      .select('id', 'userId', 'eventId', 'action', 'occurredAt', db.raw('occurred_at::text as "cursorAt"'))
      .where('occurredAt', '>=', since)
      .orderBy([{ column: 'occurredAt' }, { column: 'id' }])
      .limit(DB_BATCH);
    if (after) query.whereRaw('(occurred_at, id) > (?::timestamptz, ?::uuid)', [after.at, after.id]);
    const rows: { id: string; userId: string; eventId: string; action: Action; occurredAt: Date; cursorAt: string }[] = await query;
    rows.forEach((row, i) =>
      builder.interaction(read + i + 1, {
        user_id: row.userId,
        event_id: row.eventId,
        action: row.action,
        timestamp: row.occurredAt.toISOString(),
      }),
    );
    read += rows.length;
    options.progress?.(read, total);
    if (rows.length < DB_BATCH) return builder.data;
    after = { at: rows[rows.length - 1]!.cursorAt, id: rows[rows.length - 1]!.id };
  }
}
