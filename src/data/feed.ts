import type { Db } from './db';
import { FEED_LIMITS, type Candidate, type UserProfile } from '../domain/ranking';
import { featuresOf, type EventFeatures } from '../domain/model';

interface EventRow extends EventFeatures {
  id: string;
  startsAt: Date;
  popularity: number;
}

/**
 * Everything the ranking needs for one user, read with indexed, bounded queries: the user's
 * strongest pairs and features, the neighbours of their latest positive events, popular and soon
 * upcoming events. Dismissed and applied-to events, and events that have started, are left out.
 */
export async function loadFeedCandidates(db: Db, userId: string, now: Date): Promise<{ profile: UserProfile; candidates: Candidate[] }> {
  const [direct, topFeatures, collaborative] = await Promise.all([
    rows<{ eventId: string }>(
      db,
      `select event_id as "eventId" from user_event_scores
        where user_id = ? and dismissed_at is null and applied_at is null
        order by decayed desc limit ?`,
      [userId, FEED_LIMITS.direct],
    ),
    rows<{ feature: string; value: number }>(
      db,
      'select feature, value from user_feature_affinities where user_id = ? and value > 0 order by value desc limit ?',
      [userId, FEED_LIMITS.topFeatures],
    ),
    // "People who engaged with your latest events also engaged with": co-occurrence normalised by
    // both events' engaged users (cosine), so that it does not merely repeat popularity.
    rows<{ eventId: string; value: number }>(
      db,
      `select n.other_event_id as "eventId", sum(n.value / sqrt(greatest(pr.engaged, 1e-300) * greatest(pc.engaged, 1e-300))) as value
         from (select event_id from user_event_scores where user_id = ? and positive_at is not null
                order by positive_at desc limit ?) r
         join event_popularity pr on pr.event_id = r.event_id
         cross join lateral (select other_event_id, value from event_cooccurrence where event_id = r.event_id
                              order by value desc limit ?) n
         join event_popularity pc on pc.event_id = n.other_event_id
        group by n.other_event_id order by value desc limit ?`,
      [userId, FEED_LIMITS.recentPositives, FEED_LIMITS.neighboursPerEvent, FEED_LIMITS.collaborative],
    ),
  ]);

  const wanted = (prefix: string) => topFeatures.filter((f) => f.feature.startsWith(prefix)).map((f) => f.feature.slice(prefix.length));
  const eventColumns = `e.id, e.starts_at as "startsAt", e.category, e.tags, e.city, e.organizer_id as "organizerId", e.kind, coalesce(p.value, 0) as popularity`;
  const ids = [...new Set([...direct.map((d) => d.eventId), ...collaborative.map((c) => c.eventId)])];
  const [byId, byFeature, popular, soonest] = await Promise.all([
    rows<EventRow>(
      db,
      `select ${eventColumns} from events e left join event_popularity p on p.event_id = e.id where e.id = any(?::uuid[]) and e.starts_at > ?`,
      [ids, now],
    ),
    eventsWithFeatures(db, eventColumns, now, [wanted('category:'), wanted('tag:'), wanted('city:'), wanted('organizer:')]),
    rows<EventRow>(
      db,
      `select ${eventColumns} from event_popularity p join events e on e.id = p.event_id
        where e.starts_at > ? order by p.value desc limit ?`,
      [now, FEED_LIMITS.popular],
    ),
    rows<EventRow>(
      db,
      `select ${eventColumns} from events e left join event_popularity p on p.event_id = e.id where e.starts_at > ? order by e.starts_at limit ?`,
      [now, FEED_LIMITS.soonest],
    ),
  ]);

  const events = new Map<string, EventRow>();
  for (const row of [...byId, ...byFeature, ...popular, ...soonest]) events.set(row.id, row);
  const candidateIds = [...events.keys()];

  const [pairs, affinities] = await Promise.all([
    rows<{ eventId: string; decayed: number; excluded: boolean }>(
      db,
      `select event_id as "eventId", decayed, (dismissed_at is not null or applied_at is not null) as excluded
         from user_event_scores where user_id = ? and event_id = any(?::uuid[])`,
      [userId, candidateIds],
    ),
    rows<{ feature: string; value: number }>(
      db,
      'select feature, value from user_feature_affinities where user_id = ? and feature = any(?)',
      [userId, [...new Set([...events.values()].flatMap((e) => featuresOf(e)))]],
    ),
  ]);

  const pairByEvent = new Map(pairs.map((p) => [p.eventId, p]));
  const collaborativeByEvent = new Map(collaborative.map((c) => [c.eventId, Number(c.value)]));
  const candidates: Candidate[] = [];
  for (const event of events.values()) {
    const pair = pairByEvent.get(event.id);
    if (pair?.excluded) continue;
    candidates.push({
      eventId: event.id,
      features: { category: event.category, tags: event.tags, city: event.city, organizerId: event.organizerId, kind: event.kind },
      direct: pair?.decayed ?? 0,
      collaborative: collaborativeByEvent.get(event.id) ?? 0,
      popularity: Number(event.popularity),
      startsAt: event.startsAt,
    });
  }
  const profile = { affinities: new Map([...topFeatures, ...affinities].map((a) => [a.feature, Number(a.value)])) };
  return { profile, candidates };
}

/**
 * Upcoming events with any of the user's strongest features, most popular first. Walks the
 * popularity index and stops at the limit, so its cost does not grow with the number of events
 * that match; events no one has engaged with yet (not in that index) fill what is left, soonest first.
 */
async function eventsWithFeatures(db: Db, columns: string, now: Date, features: string[][]): Promise<EventRow[]> {
  const matches = '(lower(e.category) = any(?) or e.tags && ?::text[] or lower(e.city) = any(?) or e.organizer_id = any(?))';
  const popular = await rows<EventRow>(
    db,
    `select ${columns} from event_popularity p join events e on e.id = p.event_id
      where e.starts_at > ? and ${matches} order by p.value desc limit ?`,
    [now, ...features, FEED_LIMITS.byFeature],
  );
  if (popular.length === FEED_LIMITS.byFeature) return popular;
  const fresh = await rows<EventRow>(
    db,
    `select ${columns} from events e left join event_popularity p on p.event_id = e.id
      where p.event_id is null and e.starts_at > ? and ${matches} order by e.starts_at limit ?`,
    [now, ...features, FEED_LIMITS.byFeature - popular.length],
  );
  return [...popular, ...fresh];
}

export interface FeedEvent {
  id: string;
  title: string;
  startsAt: Date;
  kind: string;
  category: string | null;
  tags: string[];
  city: string | null;
}

/** The events of one page that may still be shown: not started, not dismissed or applied to since the snapshot. */
export async function loadShowableEvents(db: Db, userId: string, ids: string[], now: Date): Promise<Map<string, FeedEvent>> {
  const found = await rows<FeedEvent>(
    db,
    `select e.id, e.title, e.starts_at as "startsAt", e.kind, e.category, e.tags, e.city from events e
      where e.id = any(?::uuid[]) and e.starts_at > ?
        and not exists (select 1 from user_event_scores s where s.user_id = ? and s.event_id = e.id
                         and (s.dismissed_at is not null or s.applied_at is not null))`,
    [ids, now, userId],
  );
  return new Map(found.map((e) => [e.id, e]));
}

async function rows<T>(db: Db, sql: string, bindings: unknown[]): Promise<T[]> {
  const result = await db.raw<{ rows: T[] }>(sql, bindings as never);
  return result.rows;
}
