import { FEED_SCAN, FILTER_SCAN, NEIGHBOUR_SCAN_FACTOR } from '../src/feed/candidates';
import { rankCandidates, type Candidate, type RankedItem } from '../src/feed/ranking';
import { rankSimilar, SIMILAR_LIMITS, type SimilarItem } from '../src/feed/similar';
import type { CandidateLimits, RankingSettings } from '../src/domain/fitted-settings';
import { DEFAULT_ITEM_MODEL_HALF_LIFE, itemModelScores } from '../src/domain/item-model';
import { spell } from '../src/domain/model';
import { NO_FEATURES, type MemoryModelStore, type Pair } from './memory-store';

export interface FeedSettings {
  ranking: RankingSettings;
  candidates: CandidateLimits;
}

/**
 * The user's feed from the in-memory model, built as `loadFeedCandidates` builds it in SQL: the
 * neighbours of their latest positive events, events matching their strongest features (engaged-with
 * ones by popularity, then the rest) and the most popular events; events they interacted with left
 * out. The data has no start times, so nothing is dropped as started and there is no "soonest" source.
 */
export function rankFeedInMemory(
  store: MemoryModelStore,
  settings: FeedSettings,
  userId: string,
  passes?: (eventId: string) => boolean,
): RankedItem[] {
  const { ids, collaborative, itemModel } = feedCandidatesInMemory(store, settings, userId, passes);
  return rankInMemory(store, settings, userId, ids, collaborative, itemModel);
}

/** The feed's candidates, with the collaborative signals and item-model scores they carry. */
export interface FeedCandidates {
  ids: string[];
  collaborative: Map<string, CollaborativeSignal>;
  itemModel: Map<string, number>;
}

/** The candidates `rankFeedInMemory` ranks. */
export function feedCandidatesInMemory(
  store: MemoryModelStore,
  settings: FeedSettings,
  userId: string,
  passes?: (eventId: string) => boolean,
): FeedCandidates {
  const limits = settings.candidates;
  const userAffinities = store.affinitiesOf(userId, limits.profileEvents);
  // Under a filter, each walk as the filtered SQL bounds it (NEIGHBOUR_SCAN_FACTOR, FILTER_SCAN); the
  // data has no start times, so without one every neighbour read is kept.
  const within = (ids: string[]) => (passes ? ids.filter(passes) : ids);

  const collaborative = collaborativeScores(store, settings.ranking, userId, (recent, weight) => {
    const size = neighbourLimit(limits.neighboursPerEvent, weight);
    return passes ? within(store.neighbours(recent, size * NEIGHBOUR_SCAN_FACTOR)).slice(0, size) : store.neighbours(recent, size);
  });
  const collaborativeTop = new Map(
    strongest(
      [...collaborative].map(([id, signal]) => [id, signal.value]),
      limits.collaborative,
    ).map(([id]) => [id, collaborative.get(id)!]),
  );
  const topFeatures = strongest(
    [...userAffinities].filter(([, v]) => v > 0),
    limits.topFeatures,
  );
  const wanted = new Set(topFeatures.map(([feature]) => feature).filter((f) => !f.startsWith('kind:')));
  const matches = (id: string) => store.featuresOf(id).some((f) => wanted.has(f));
  // Like the SQL, each walk stops at its limit: testing every event for every user is what is slow.
  const firstMatching = (ids: Iterable<string>, limit: number) => {
    const found: string[] = [];
    if (wanted.size === 0) return found;
    for (const id of ids) {
      if (found.length >= limit) break;
      if (matches(id)) found.push(id);
    }
    return found;
  };
  // Each walk bounded as in SQL (FEED_SCAN, or FILTER_SCAN under a filter); events no one engaged
  // with, in id order, stand in for the soonest (the data has no start times).
  const byPopularity = passes ? within(store.byPopularity().slice(0, FILTER_SCAN)) : store.byPopularity().slice(0, FEED_SCAN);
  const matching = firstMatching(byPopularity, limits.byFeature);
  const unengaged = passes ? within(store.neverEngaged()).slice(0, FILTER_SCAN) : store.neverEngaged().slice(0, FEED_SCAN);
  const fresh = matching.length < limits.byFeature ? firstMatching(unengaged, limits.byFeature - matching.length) : [];
  const popular = byPopularity.slice(0, limits.popular);
  const items = itemModelOf(store, settings.ranking, userId);
  const itemTop = strongest(
    [...items].filter(([id]) => !passes || passes(id)),
    limits.itemModel ?? 0,
  ).map(([id]) => id);

  const ids = new Set([...collaborativeTop.keys(), ...itemTop, ...matching, ...fresh, ...popular]);
  // As in SQL, only the item model's best carry its score, whichever source found the others.
  const itemScores = new Map(itemTop.map((id) => [id, items.get(id)!]));
  return { ids: passes ? [...ids].filter(passes) : [...ids], collaborative: collaborativeTop, itemModel: itemScores };
}

/**
 * Ranks these events for the user as the feed does, from the signals it reads (`collaborative`
 * given), without those the user interacted with, with the affinities `loadFeedCandidates` sums.
 */
export function rankInMemory(
  store: MemoryModelStore,
  settings: FeedSettings,
  userId: string,
  eventIds: Iterable<string>,
  collaborative: Map<string, CollaborativeSignal>,
  items: Map<string, number> = itemModelOf(store, settings.ranking, userId),
): RankedItem[] {
  const pairs = store.pairs.get(userId) ?? new Map<string, Pair>();
  const candidates: Candidate[] = [];
  for (const eventId of eventIds) {
    if (pairs.has(eventId)) continue;
    candidates.push({
      eventId,
      features: store.events.get(eventId) ?? NO_FEATURES,
      collaborative: collaborative.get(eventId)?.value ?? 0,
      support: collaborative.get(eventId)?.support ?? 0,
      popularity: store.popularity.get(eventId) ?? 0,
      itemModel: items.get(eventId) ?? 0,
    });
  }
  return rankCandidates(settings.ranking, { affinities: store.affinitiesOf(userId, settings.candidates.profileEvents) }, candidates);
}

/** The item model's scores for the user, from their latest positive events, as the feed's query sums them. */
export function itemModelOf(store: MemoryModelStore, ranking: RankingSettings, userId: string): Map<string, number> {
  if (!ranking.weights.itemModel || store.itemNeighbours.size === 0) return new Map();
  const latest = store.latestPositives(userId, ranking.recentPositives).map((p) => p.eventId);
  return itemModelScores(store.itemNeighbours, latest, ranking.itemModelHalfLife ?? DEFAULT_ITEM_MODEL_HALF_LIFE);
}

/**
 * How many neighbours of a recent event the feed reads: `neighboursPerEvent` for the latest, fewer
 * for older ones in proportion to their weight in the signal (as the SQL does).
 */
export const neighbourLimit = (neighboursPerEvent: number, weight: number) => Math.max(1, Math.round(neighboursPerEvent * weight));

/** `Candidate.collaborative` (value) and `Candidate.support` of one event. */
export interface CollaborativeSignal {
  value: number;
  support: number;
}

/**
 * The collaborative signal of `Candidate.collaborative` and its support for every event
 * `neighboursOf` yields from the user's latest positive events (given each one's weight).
 */
export function collaborativeScores(
  store: MemoryModelStore,
  ranking: RankingSettings,
  userId: string,
  neighboursOf: (recent: string, weight: number) => Iterable<string>,
): Map<string, CollaborativeSignal> {
  const scores = new Map<string, CollaborativeSignal>();
  store.latestPositives(userId, ranking.recentPositives).forEach(({ eventId: recent }, k) => {
    const weight = (k + 1) ** -ranking.recencyDecay;
    for (const other of neighboursOf(recent, weight)) {
      const signal = scores.get(other) ?? { value: 0, support: 0 };
      signal.value += weight * store.similarity(recent, other, ranking.similarityExponent);
      signal.support += weight * store.cooccurrence(recent, other);
      scores.set(other, signal);
    }
  });
  return scores;
}

/** The `limit` entries of highest value, best first (ties by key), as the feed's `order by ... limit` reads them. */
export function strongest(entries: [string, number][], limit: number): [string, number][] {
  return entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, limit);
}

/**
 * The events `GET /events/:id/similar` shows beside `eventId` to the user, from the in-memory
 * model, with the candidates the SQL reads: the event's strongest co-engaged events, events sharing
 * a feature by popularity (the walk bounded as in SQL; events nobody engaged with, in id order,
 * stand in for the soonest of its category: the data has no start times), the most popular.
 */
export function similarInMemory(store: MemoryModelStore, settings: FeedSettings, userId: string, eventId: string): SimilarItem[] {
  const source = store.events.get(eventId) ?? NO_FEATURES;
  const sourceFeatures = new Set(store.featuresOf(eventId).filter((f) => !f.startsWith('kind:')));
  const sourceCategory = spell(source.category);
  const shares = (id: string) => store.featuresOf(id).some((f) => sourceFeatures.has(f));
  const byPopularity = store.byPopularity();
  const alike = byPopularity.slice(0, SIMILAR_LIMITS.scan).filter(shares).slice(0, SIMILAR_LIMITS.alike);
  const fresh = sourceCategory
    ? store
        .neverEngaged()
        .filter((id) => spell(store.events.get(id)?.category) === sourceCategory)
        .slice(0, SIMILAR_LIMITS.alike)
    : [];
  const items = settings.ranking.weights.itemModel ? (store.itemNeighbours.get(eventId) ?? []) : [];
  const weightOf = new Map(items.map((n) => [n.eventId, n.weight]));
  const neighbours = new Set(store.neighbours(eventId, SIMILAR_LIMITS.neighbours));
  const ids = new Set([...neighbours, ...weightOf.keys(), ...alike, ...fresh, ...byPopularity.slice(0, SIMILAR_LIMITS.popular)]);
  const mine = store.pairs.get(userId);
  const candidates = [...ids]
    .filter((id) => id !== eventId && !mine?.has(id))
    .map((id) => ({
      eventId: id,
      features: store.events.get(id) ?? NO_FEATURES,
      // As in SQL, only its strongest co-engaged events carry their co-occurrence.
      cooccurrence: neighbours.has(id) ? store.similarity(eventId, id, settings.ranking.similarityExponent) : 0,
      itemModel: weightOf.get(id) ?? 0,
      popularity: store.popularity.get(id) ?? 0,
    }));
  return rankSimilar(settings.ranking, source, candidates);
}
