import type { Db } from '../data/db';
import type { RankingSettings } from '../domain/fitted-settings';
import { spell, type EventFeatures, type FeatureType } from '../domain/model';
import { isUuid } from '../domain/ids';
import { NotFoundError } from '../errors';
import { loadTouchedEvents, mostPopular, upcomingNeighbours, type FeedEvent } from './candidates';
import { FEATURE_TYPE_WEIGHTS } from './ranking';

/** An event that may be shown beside another, with its signals. */
export interface SimilarCandidate {
  eventId: string;
  features: EventFeatures;
  /**
   * Co-engagement with the source event s: value(s → c) / engaged(c)^(1 − e), e =
   * similarityExponent, value(s → c) being what event_pairs holds of s's users going on to c (and,
   * at the backward weight, coming from it). The feed's collaborative signal for one recent event.
   */
  cooccurrence: number;
  /** The item model's weight from the source event to this one, B[s][c] (src/domain/item-model.ts); 0 or absent when none. */
  itemModel?: number;
  popularity: number;
  startsAt?: Date;
}

export type SimilarReason =
  | { code: 'often_next'; text: string }
  | { code: 'same_category' | 'same_city' | 'same_organizer'; text: string; feature: { type: FeatureType; value: string } }
  | { code: 'popular'; text: string };

export const SIMILAR_REASON_CODES = ['often_next', 'same_category', 'same_city', 'same_organizer', 'popular'] as const;

export interface SimilarItem {
  eventId: string;
  score: number;
  reasons: SimilarReason[];
}

/**
 * Orders events to show beside `source`: co-engagement first (what people engaged with after or
 * together with it, and the item model's weight from it), then shared features (category, tags, city, organizer, kind) and popularity,
 * each relative to its greatest value among the candidates and blended with the feed's weights.
 * Pure: the API and the offline evaluation both rank with it.
 */
export function rankSimilar(
  ranking: Pick<RankingSettings, 'weights' | 'popularityExponent'>,
  source: EventFeatures,
  candidates: SimilarCandidate[],
): SimilarItem[] {
  const { weights } = ranking;
  let maxCooccurrence = 0;
  let maxItemModel = 0;
  let maxPopularity = 0;
  for (const c of candidates) {
    maxCooccurrence = Math.max(maxCooccurrence, c.cooccurrence);
    maxItemModel = Math.max(maxItemModel, c.itemModel ?? 0);
    maxPopularity = Math.max(maxPopularity, c.popularity);
  }
  const [sourceCategory, sourceCity] = [spell(source.category), spell(source.city)];
  const sourceTags = new Set(source.tags.map(spell));
  const ranked = candidates.map((candidate) => {
    const parts: { value: number; reason?: SimilarReason }[] = [];
    if (maxCooccurrence > 0 && candidate.cooccurrence > 0) {
      parts.push({
        value: weights.collaborative * (candidate.cooccurrence / maxCooccurrence),
        reason: ALSO_ENGAGED,
      });
    }
    if (maxItemModel > 0 && (candidate.itemModel ?? 0) > 0 && weights.itemModel) {
      parts.push({ value: weights.itemModel * (candidate.itemModel! / maxItemModel), reason: ALSO_ENGAGED });
    }
    const { features } = candidate;
    const category = spell(features.category);
    if (category && category === sourceCategory) {
      parts.push({
        value: weights.features * FEATURE_TYPE_WEIGHTS.category,
        reason: { code: 'same_category', text: `also ${features.category!.trim()}`, feature: { type: 'category', value: category } },
      });
    }
    const tags = new Set(features.tags.map(spell));
    const shared = [...tags].filter((t) => sourceTags.has(t)).length;
    if (shared > 0) parts.push({ value: (weights.features * FEATURE_TYPE_WEIGHTS.tag * shared) / new Set([...tags, ...sourceTags]).size });
    const city = spell(features.city);
    if (city && city === sourceCity) {
      parts.push({
        value: weights.features * FEATURE_TYPE_WEIGHTS.city,
        reason: { code: 'same_city', text: `also in ${features.city!.trim()}`, feature: { type: 'city', value: city } },
      });
    }
    if (features.organizerId && features.organizerId === source.organizerId) {
      parts.push({
        value: weights.features * FEATURE_TYPE_WEIGHTS.organizer,
        reason: { code: 'same_organizer', text: 'by the same organizer', feature: { type: 'organizer', value: features.organizerId } },
      });
    }
    if (features.kind && features.kind === source.kind) parts.push({ value: weights.features * FEATURE_TYPE_WEIGHTS.kind });
    if (maxPopularity > 0 && candidate.popularity > 0) {
      const popularity = (candidate.popularity / maxPopularity) ** ranking.popularityExponent;
      parts.push({ value: weights.popularity * popularity, reason: { code: 'popular', text: 'popular right now' } });
    }
    const score = parts.reduce((sum, p) => sum + p.value, 0);
    const reasons = parts
      .filter((p): p is { value: number; reason: SimilarReason } => p.reason !== undefined && p.value > 0.01 * Math.max(score, 1e-9))
      .sort((a, b) => b.value - a.value)
      .map((p) => p.reason)
      .filter((reason, i, all) => all.findIndex((r) => r.code === reason.code) === i) // co-engagement and the item model say one thing
      .slice(0, 3);
    return {
      eventId: candidate.eventId,
      score: Math.round(score * 1e6) / 1e6,
      reasons,
      startsAt: candidate.startsAt?.getTime() ?? Infinity,
    };
  });
  ranked.sort((a, b) => b.score - a.score || a.startsAt - b.startsAt || (a.eventId < b.eventId ? -1 : 1));
  return ranked.map(({ eventId, score, reasons }) => ({ eventId, score, reasons }));
}

const ALSO_ENGAGED: SimilarReason = Object.freeze({ code: 'often_next', text: 'people who engaged with this went on to this' });

/** How many of each source the similar events are chosen from: bounded, whatever the catalogue. */
export const SIMILAR_LIMITS = { neighbours: 200, alike: 100, popular: 50, scan: 2000 };

/**
 * The source event's features and the candidates to show beside it, in one statement: its
 * strongest co-engaged events that have not started (both directions of its event_pairs row, each
 * read off its index), upcoming events sharing its features by popularity (the popularity index
 * walked a bounded distance) and the soonest of its category (how a new event is found), and the
 * most popular. Never the event itself, events that started, or events the user interacted with.
 */
const SIMILAR_SQL = `
with source as (
  select id, category, tags, city, organizer_id, kind,
         array(select key from unnest(feature_keys) as key where key not like 'kind:%') as keys,
         coalesce((select engaged from event_popularity where event_id = :eventId), 0) as engaged
    from events where id = :eventId
), neighbours as (
  -- The strongest that have not started, among NEIGHBOUR_SCAN_FACTOR times as many (as the feed's).
  select other_event_id as id, value
    from (${upcomingNeighbours('low', 'high', ':eventId', ':neighbours')} union all ${upcomingNeighbours('high', 'low', ':eventId', ':neighbours')}) n
   order by value desc, other_event_id limit :neighbours
), item_model as (
  -- The item model's strongest weights from the source (as many as the fit keeps; none when its weight is 0).
  select neighbour_id as id, weight from item_neighbours where event_id = :eventId and :itemModel
), alike as (
  (select p.event_id as id from ${mostPopular(':scan')} p
    where (select e.starts_at > :now and e.feature_keys && s.keys from events e, source s where e.id = p.event_id)
    order by p.value desc, p.event_id limit :alike)
  union
  (select e.id from events e, source s
    where lower(e.category) = lower(s.category) and e.starts_at > :now order by e.starts_at limit :alike)
), popular as (
  -- Among as many of the most popular as alike walks: events that started stay in that index.
  select e.id from ${mostPopular(':scan')} p
    join events e on e.id = p.event_id
   where e.starts_at > :now order by p.value desc, p.event_id limit :popular
), candidate as materialized (
  select id, max(value) as value, max(weight) as item_model
    from (select id, value, null::float8 as weight from neighbours
          union all select id, null, weight from item_model
          union all select id, null, null from alike
          union all select id, null, null from popular) sources
   group by id
)
select (select json_build_array(category, tags, city, organizer_id, kind) from source) as source,
       (select json_agg(json_build_array(e.id, floor(extract(epoch from e.starts_at) * 1000), e.category, e.tags, e.city,
                                         e.organizer_id, e.kind,
                                         coalesce(p.value, 0),
                                         coalesce(i.value, 0) / power(greatest(coalesce(p.engaged, 0), 1), 1 - :similarityExponent::float8),
                                         coalesce(i.item_model, 0)))
          from candidate i
          cross join lateral (select * from events e where e.id = i.id and e.starts_at > :now and e.id <> :eventId offset 0) e
          left join event_popularity p on p.event_id = e.id
         where not exists (select 1 from user_event_scores x where x.user_id = :userId and x.event_id = e.id)) as candidates`;

type Row = [string, number, string | null, string[], string | null, string, string, number, number, number];

/** The source event's features and its candidates for the user; NotFoundError when there is no such event. */
export async function loadSimilarCandidates(
  db: Db,
  userId: string,
  eventId: string,
  now: Date,
  ranking: Pick<RankingSettings, 'similarityExponent' | 'weights'>,
  options: { prepared?: boolean } = {},
): Promise<{ source: EventFeatures; candidates: SimilarCandidate[] }> {
  if (!isUuid(eventId)) throw new NotFoundError('Event not found', { code: 'event_not_found' });
  const query = db.raw<{
    rows: { source: [string | null, string[], string | null, string, string] | null; candidates: Row[] | null }[];
  }>(SIMILAR_SQL, {
    eventId,
    userId,
    now,
    similarityExponent: ranking.similarityExponent,
    itemModel: (ranking.weights.itemModel ?? 0) > 0,
    ...SIMILAR_LIMITS,
  });
  // Prepared once per connection (DATABASE_PREPARED_STATEMENTS): planning it is a good part of its time.
  const { rows } = await (options.prepared ? query.options({ name: 'similar_events' }) : query);
  const found = rows[0]!;
  if (!found.source) throw new NotFoundError('Event not found', { code: 'event_not_found' });
  const [category, tags, city, organizerId, kind] = found.source;
  return {
    source: { category, tags, city, organizerId, kind },
    candidates: (found.candidates ?? []).map(
      ([id, startsAt, cat, tagList, town, organizer, kindOf, popularity, cooccurrence, itemModel]) => ({
        eventId: id,
        features: { category: cat, tags: tagList, city: town, organizerId: organizer, kind: kindOf },
        popularity,
        cooccurrence,
        itemModel,
        startsAt: new Date(startsAt),
      }),
    ),
  };
}

/** Up to `limit` events to show beside `eventId` to the user, with the facts a page shows of them. */
export async function getSimilarEvents(
  deps: {
    /** Where the model is read: the replica of DATABASE_READ_URL, or the primary. */
    db: Db;
    /**
     * With `db` a replica: the primary, and whether it has an event (cached). An event the replica
     * has not replayed yet (just created) is read there rather than answered 404.
     */
    primary?: { db: Db; has(eventId: string): Promise<boolean> };
    ranking: RankingSettings;
    events(ids: string[], now: Date): Promise<Map<string, FeedEvent>>;
    hidden(userId: string): Promise<Set<string>>;
    preparedStatements?: boolean;
  },
  userId: string,
  eventId: string,
  limit: number,
  now = new Date(),
): Promise<(SimilarItem & { event: FeedEvent })[]> {
  const load = async (db: Db) => ({
    db,
    ...(await loadSimilarCandidates(db, userId, eventId, now, deps.ranking, { prepared: deps.preparedStatements })),
  });
  const [{ db, source, candidates }, hidden] = await Promise.all([
    load(deps.db).catch(async (error: unknown) => {
      if (error instanceof NotFoundError && deps.primary && isUuid(eventId) && (await deps.primary.has(eventId)))
        return load(deps.primary.db);
      throw error;
    }),
    deps.hidden(userId),
  ]);
  // A replica may not have replayed what the user did a moment ago: the primary says what they touched.
  const touched =
    deps.primary && db !== deps.primary.db
      ? await loadTouchedEvents(
          deps.primary.db,
          userId,
          candidates.map((c) => c.eventId),
        )
      : new Set<string>();
  const ranked = rankSimilar(
    deps.ranking,
    source,
    candidates.filter((c) => !hidden.has(c.eventId) && !touched.has(c.eventId)),
  ).slice(0, limit);
  const events = await deps.events(
    ranked.map((item) => item.eventId),
    now,
  );
  return ranked.flatMap((item) => {
    const event = events.get(item.eventId);
    return event ? [{ ...item, event }] : [];
  });
}
