import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { applyInteractions, featuresOf, type EventFeatures, type ModelSettings } from '../domain/model';
import { FEED_LIMITS, rankCandidates, type Candidate } from '../domain/ranking';
import { ACTIONS, type Action } from '../domain/weights';
import { parseCsv, parseTimestamp, splitCsvLine } from './csv';
import { MemoryModelStore, type Pair } from './memory-store';

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

/** The same, streaming the files line by line (real datasets run to hundreds of megabytes). */
export async function readEvalFiles(interactionsPath: string, eventsPath: string): Promise<EvalData> {
  const builder = new EvalDataBuilder();
  const each = async (file: string, columns: readonly string[], row: (line: number, values: Record<string, string>) => void) => {
    let line = 0;
    for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      line += 1;
      if (text.trim() === '') continue;
      const fields = splitCsvLine(text);
      if (line === 1 && fields[0]?.toLowerCase() === columns[0]) continue;
      row(line, Object.fromEntries(columns.map((c, i) => [c, fields[i] ?? ''])));
    }
  };
  await each(eventsPath, EVENT_COLUMNS, (_line, values) => builder.event(values));
  await each(interactionsPath, INTERACTION_COLUMNS, (line, values) => builder.interaction(line, values));
  return builder.data;
}

export interface EvalResult {
  users: number;
  skippedUsers: number;
  k: number;
  negatives: number;
  models: { name: 'popularity' | 'full'; hitRate: number; ndcg: number }[];
  /**
   * The held-out event against the user's whole feed, as the feed builds it (its candidate sources,
   * bounded by `limits`), instead of against sampled negatives: `recall` is how often it is among
   * the candidates at all, `hitRate` and `ndcg` how often (and how high) it is in the feed's top k.
   */
  feed: { recall: number; hitRate: number; ndcg: number; meanCandidates: number; limits: FeedLimits };
}

export type FeedLimits = { -readonly [K in keyof typeof FEED_LIMITS]: number };

/**
 * The feed's limits with its five candidate sources scaled (not the depth of a user's history it
 * reads): what a cheaper, or a richer, feed would find.
 */
export function scaledFeedLimits(scale: number): FeedLimits {
  const limits: FeedLimits = { ...FEED_LIMITS };
  for (const source of ['direct', 'collaborative', 'byFeature', 'popular', 'soonest'] as const) {
    limits[source] = Math.max(1, Math.round(FEED_LIMITS[source] * scale));
  }
  return limits;
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
 * Leave-last-out evaluation, replayed in time order. Each user's last interaction other than a
 * DISMISS is held out; every other interaction is folded into the model in time order through the
 * workers' own `applyInteractions`. When the replay reaches a held-out interaction, the held-out
 * event is ranked with the feed's `rankCandidates`, at that instant and with only what was known
 * by then, among `negatives` events the user never touched. Reports HR@k and NDCG@k for popularity
 * alone (the feed of a stranger) and for the full model.
 */
export async function evaluate(
  data: EvalData,
  settings: ModelSettings,
  options: { negatives?: number; k?: number; seed?: number; feedLimits?: FeedLimits } = {},
): Promise<EvalResult> {
  const { negatives = 100, k = 10, seed = 42, feedLimits = { ...FEED_LIMITS } } = options;
  const ordered = data.interactions
    .map((interaction, index) => ({ interaction, index }))
    .sort((a, b) => a.interaction.at.getTime() - b.interaction.at.getTime() || a.index - b.index)
    .map(({ interaction }) => interaction);

  const heldOut = new Map<string, EvalInteraction>();
  const counts = new Map<string, number>();
  const touched = new Map<string, Set<string>>();
  for (const interaction of ordered) {
    counts.set(interaction.userId, (counts.get(interaction.userId) ?? 0) + 1);
    if (interaction.action !== 'DISMISS') heldOut.set(interaction.userId, interaction);
    const events = touched.get(interaction.userId) ?? new Set<string>();
    events.add(interaction.eventId);
    touched.set(interaction.userId, events);
  }
  // A user needs something to learn from besides the interaction held out.
  for (const [userId] of heldOut) if ((counts.get(userId) ?? 0) < 2) heldOut.delete(userId);
  const heldOutSet = new Set(heldOut.values());

  const allEvents = [...new Set([...data.events.keys(), ...data.interactions.map((i) => i.eventId)])].sort();
  const store = new MemoryModelStore(data.events);
  const random = seededRandom(seed);
  const totals = { popularity: { hits: 0, ndcg: 0 }, full: { hits: 0, ndcg: 0 } };
  const feed = { found: 0, hits: 0, ndcg: 0, candidates: 0 };
  let users = 0;

  for (const interaction of ordered) {
    if (!heldOutSet.has(interaction)) {
      await applyInteractions(store, settings, [
        { userId: interaction.userId, eventId: interaction.eventId, action: interaction.action, createdAt: interaction.at },
      ]);
      continue;
    }
    const mine = touched.get(interaction.userId)!;
    if (allEvents.length - mine.size < negatives) continue;
    const sampled = new Set<string>();
    while (sampled.size < negatives) {
      const eventId = allEvents[Math.floor(random() * allEvents.length)]!;
      if (!mine.has(eventId)) sampled.add(eventId);
    }
    const candidateIds = [interaction.eventId, ...sampled];
    users += 1;
    const feedRanking = rankFeed(store, settings, interaction.userId, interaction.at, feedLimits);
    feed.candidates += feedRanking.length;
    const feedRank = feedRanking.indexOf(interaction.eventId);
    if (feedRank !== -1) feed.found += 1;
    if (feedRank !== -1 && feedRank < k) {
      feed.hits += 1;
      feed.ndcg += 1 / Math.log2(feedRank + 2);
    }
    for (const name of ['popularity', 'full'] as const) {
      const scores = scoresFor(store, settings, name === 'full' ? interaction.userId : undefined, candidateIds, interaction.at);
      // Ties are broken at random (seeded): a stranger's many equal scores must not favour the held-out event.
      const own = scores.get(interaction.eventId)!;
      const others = [...scores].filter(([id]) => id !== interaction.eventId).map(([, score]) => score);
      const ties = others.filter((score) => score === own).length;
      const rank = others.filter((score) => score > own).length + Math.floor(random() * (ties + 1));
      if (rank < k) {
        totals[name].hits += 1;
        totals[name].ndcg += 1 / Math.log2(rank + 2);
      }
    }
  }
  return {
    users,
    skippedUsers: counts.size - users,
    k,
    negatives,
    models: (['popularity', 'full'] as const).map((name) => ({
      name,
      hitRate: users ? totals[name].hits / users : 0,
      ndcg: users ? totals[name].ndcg / users : 0,
    })),
    feed: {
      recall: users ? feed.found / users : 0,
      hitRate: users ? feed.hits / users : 0,
      ndcg: users ? feed.ndcg / users : 0,
      meanCandidates: users ? feed.candidates / users : 0,
      limits: feedLimits,
    },
  };
}

/**
 * The user's feed at `now`, event ids best first, built as `loadFeedCandidates` builds it: the
 * user's strongest pairs, neighbours of their latest positive events, events matching their
 * strongest features (engaged-with ones by popularity, then the rest), the most popular events;
 * dismissed and applied-to events left out. The data has no start times, so nothing is dropped as
 * started and there is no "soonest" source.
 */
function rankFeed(store: MemoryModelStore, settings: ModelSettings, userId: string, now: Date, limits: FeedLimits): string[] {
  const pairs = store.pairs.get(userId) ?? new Map<string, Pair>();
  const userAffinities = store.affinities.get(userId) ?? new Map<string, number>();

  const direct = strongest(
    [...pairs].filter(([, p]) => !p.excluded).map(([id, p]): [string, number] => [id, p.decayed]),
    limits.direct,
  ).map(([id]) => id);
  const topFeatures = strongest(
    [...userAffinities].filter(([, v]) => v > 0),
    limits.topFeatures,
  );
  const collaborative = new Map<string, number>();
  for (const event of latestPositives(pairs, limits.recentPositives)) {
    for (const other of store.neighbours(event, limits.neighboursPerEvent)) {
      collaborative.set(other, (collaborative.get(other) ?? 0) + store.similarity(event, other));
    }
  }
  const collaborativeTop = new Map(strongest([...collaborative], limits.collaborative));
  const wanted = new Set(topFeatures.map(([feature]) => feature).filter((f) => !f.startsWith('kind:')));
  const matches = (id: string) => featureKeys(store, id).some((f) => wanted.has(f));
  // Like the SQL, each walk stops at its limit: testing every event for every user is what is slow.
  const firstMatching = (ids: Iterable<string>, limit: number) => {
    const found: string[] = [];
    for (const id of ids) {
      if (found.length >= limit) break;
      if (matches(id)) found.push(id);
    }
    return found;
  };
  const byPopularity = strongest([...store.popularity], Infinity).map(([id]) => id);
  const matching = firstMatching(byPopularity, limits.byFeature);
  const fresh =
    matching.length < limits.byFeature
      ? firstMatching([...store.events.keys()].filter((id) => !store.popularity.has(id)).sort(), limits.byFeature - matching.length)
      : [];
  const popular = byPopularity.slice(0, limits.popular);

  const ids = new Set([...direct, ...collaborativeTop.keys(), ...matching, ...fresh, ...popular]);
  const candidates: Candidate[] = [];
  const affinities = new Map(topFeatures);
  for (const eventId of ids) {
    if (pairs.get(eventId)?.excluded) continue;
    const features = store.events.get(eventId) ?? NO_FEATURES;
    for (const feature of featureKeys(store, eventId))
      if (userAffinities.has(feature)) affinities.set(feature, userAffinities.get(feature)!);
    candidates.push({
      eventId,
      features,
      direct: pairs.get(eventId)?.decayed ?? 0,
      collaborative: collaborativeTop.get(eventId) ?? 0,
      popularity: store.popularity.get(eventId) ?? 0,
    });
  }
  return rankCandidates(settings, now, { affinities }, candidates).map((item) => item.eventId);
}

const NO_FEATURES: EventFeatures = { category: null, tags: [], city: null, organizerId: '', kind: '' };

/** The `limit` entries of highest value, best first (ties by key), as the feed's `order by ... limit` reads them. */
function strongest(entries: [string, number][], limit: number): [string, number][] {
  return entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, limit);
}

/** The user's latest positive events, newest first (ties by id), at most `limit`. */
function latestPositives(pairs: Map<string, Pair> | undefined, limit: number): string[] {
  return [...(pairs ?? [])]
    .filter(([, p]) => p.positiveAt !== null)
    .sort(([a, pa], [b, pb]) => pb.positiveAt!.getTime() - pa.positiveAt!.getTime() || (a < b ? -1 : 1))
    .slice(0, limit)
    .map(([eventId]) => eventId);
}

/** `featuresOf` each event, worked out once per store: events do not change during a replay. */
const featureKeyCache = new WeakMap<MemoryModelStore, Map<string, string[]>>();
function featureKeys(store: MemoryModelStore, eventId: string): string[] {
  let keys = featureKeyCache.get(store);
  if (!keys) featureKeyCache.set(store, (keys = new Map()));
  let found = keys.get(eventId);
  if (!found) keys.set(eventId, (found = featuresOf(store.events.get(eventId) ?? NO_FEATURES)));
  return found;
}

/**
 * The feed's scores of these candidates for the user (or for a stranger: popularity alone), from
 * the same signals the feed reads. One difference: the feed takes co-occurrence candidates from
 * each recent event's 50 strongest neighbours; here the sampled candidates are looked up directly.
 */
function scoresFor(
  store: MemoryModelStore,
  settings: ModelSettings,
  userId: string | undefined,
  candidateIds: string[],
  now: Date,
): Map<string, number> {
  const pairs = userId ? store.pairs.get(userId) : undefined;
  const recent = latestPositives(pairs, FEED_LIMITS.recentPositives);
  const userAffinities = (userId && store.affinities.get(userId)) || new Map<string, number>();
  const affinities = new Map(
    strongest(
      [...userAffinities].filter(([, v]) => v > 0),
      FEED_LIMITS.topFeatures,
    ),
  );
  const candidates: Candidate[] = [];
  const scores = new Map<string, number>();
  for (const eventId of candidateIds) {
    const features = store.events.get(eventId) ?? { category: null, tags: [], city: null, organizerId: '', kind: '' };
    const pair = pairs?.get(eventId);
    if (pair?.excluded) {
      scores.set(eventId, -Infinity); // the feed leaves dismissed and applied-to events out
      continue;
    }
    for (const feature of featuresOf(features)) if (userAffinities.has(feature)) affinities.set(feature, userAffinities.get(feature)!);
    const collaborative = recent.reduce((sum, r) => sum + store.similarity(r, eventId), 0);
    candidates.push({ eventId, features, direct: pair?.decayed ?? 0, collaborative, popularity: store.popularity.get(eventId) ?? 0 });
  }
  for (const item of rankCandidates(settings, now, { affinities }, candidates)) scores.set(item.eventId, item.score);
  return scores;
}
