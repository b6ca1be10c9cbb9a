import type { Action, ActionWeights } from './weights';

/** What the derived tables are built with; a change is applied by a rebuild. */
export interface ModelSettings {
  /** Of what the tables store: a new version rebuilds them. */
  version: number;
  weights: ActionWeights;
  /** Half-life of the user's interest in events and features, and of popularity. */
  halfLifeDays: number;
  /** ISO 8601: decayed values are stored scaled to this instant. */
  epoch: string;
  /** How many of the user's latest positive events a new positive one is paired with (co-occurrence). */
  cooccurrenceWindow: number;
  /**
   * A pair counts distance^-decay, the distance being 1 for the user's latest positive event
   * before the new one, 2 for the one before it, and so on: what a user engages with next says
   * most about what they engaged with just before.
   */
  cooccurrenceDistanceDecay: number;
  /**
   * Co-occurrence is directed: the row of an event holds what its users went on to engage with
   * (weight 1) and, weighted by this (0 to 1), what they had engaged with before it. The feed
   * reads the rows of the user's latest events: it asks what comes next.
   */
  cooccurrenceBackward: number;
}

/**
 * The settings to write the model with: those it was built with (`built`, from model_state), so
 * that all of it is of one set of weights, half-life and pairing whichever release's worker writes
 * it (a rolling deploy that changes them runs both releases' workers until the rebuild the new one
 * queued has run, and the old ones after it). `own` when none are recorded yet, or when the model
 * is of another settings version: its tables are then another release's, which this worker writes
 * as its own release knows them until the rebuild of the newer one replaces them.
 */
export function settingsToWrite(own: ModelSettings, built: ModelSettings | undefined): ModelSettings {
  return built && built.version === own.version ? { ...own, ...built } : own;
}

/** How first positive events are paired into the co-occurrence counts. */
export type CooccurrencePairing = Pick<ModelSettings, 'cooccurrenceWindow' | 'cooccurrenceDistanceDecay' | 'cooccurrenceBackward'>;

/**
 * The co-occurrence a new positive event adds with one of the user's earlier positive events,
 * `distance` places back (1 for the latest): `forward` to the earlier event's row (the new one came
 * after it), `backward` to the new event's row.
 */
export function pairWeights(pairing: CooccurrencePairing, distance: number): { forward: number; backward: number } {
  const forward = distance ** -pairing.cooccurrenceDistanceDecay;
  return { forward, backward: forward * pairing.cooccurrenceBackward };
}

/**
 * Actions that show interest (all but DISMISS): they feed the collaborative signal ("people who
 * saved this also saved"). Views count too, with the rest: on view-heavy data they are most of
 * what links one event to another.
 */
export const POSITIVE_ACTIONS: readonly Action[] = ['VIEW', 'SAVE', 'CLICK', 'APPLY'];

/** A dismissal teaches the model about the event's features, mildly: similar events drop a little. */
export const DISMISS_FEATURE_FACTOR = 0.3;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * 2^((t − epoch) / half-life): a signal added at t is stored multiplied by this, so that dividing
 * every stored value by the factor of "now" gives the decayed value without rewriting any row.
 */
export function epochScale(settings: Pick<ModelSettings, 'halfLifeDays' | 'epoch'>, at: Date): number {
  const halfLives = (at.getTime() - Date.parse(settings.epoch)) / (settings.halfLifeDays * DAY_MS);
  return 2 ** halfLives;
}

export interface EventFeatures {
  category: string | null;
  tags: string[];
  city: string | null;
  organizerId: string;
  kind: string;
}

export type FeatureType = 'category' | 'tag' | 'city' | 'organizer' | 'kind';

/** The features of an event as affinity keys ("category:jazz", "tag:live", "city:berlin", ...). */
export function featuresOf(event: EventFeatures): string[] {
  const keys = new Set<string>();
  if (event.category) keys.add(featureKey('category', event.category));
  for (const tag of event.tags) keys.add(featureKey('tag', tag));
  if (event.city) keys.add(featureKey('city', event.city));
  if (event.organizerId) keys.add(featureKey('organizer', event.organizerId));
  if (event.kind) keys.add(featureKey('kind', event.kind));
  return [...keys];
}

export function featureType(feature: string): FeatureType {
  return feature.slice(0, feature.indexOf(':')) as FeatureType;
}

/** A feature's key from its kind and name: categories, tags and cities in one spelling each. */
export function featureKey(kind: string, name: string): string {
  const spelled = kind === 'category' || kind === 'tag' || kind === 'city';
  return `${kind}:${spelled ? spell(name) : name}`;
}

/**
 * A category, tag or city in its one spelling: trimmed, and lower-cased as PostgreSQL's lower()
 * does it (the events' feature_keys and the feed's filters are spelled there), one character at a
 * time: JavaScript's toLowerCase alone writes İ as i and a combining dot, and a word-final Σ as ς,
 * where lower() (under a libc locale, as the database is created; not an ICU one) writes i and σ,
 * and the two spellings would not meet. A missing name is ''.
 */
export function spell(name: string | null | undefined): string {
  return (name ?? '')
    .trim()
    .replace(/[\u0130\u03a3]/g, (c) => (c === '\u0130' ? 'i' : '\u03c3'))
    .toLowerCase();
}

/** One accepted interaction, as the model sees it. */
export interface ModelInteraction {
  userId: string;
  eventId: string;
  action: Action;
  /** When the user acted: what the signal decays from. */
  occurredAt: Date;
}

/** A positive event of a user, and when it first became positive. */
export interface PositiveEvent {
  eventId: string;
  at: Date;
}

/** What a batch of interactions adds to the model: every change summed per row of the derived tables. */
export interface ModelDelta {
  pairs: PairDelta[];
  /** `value`: decayed weights; `engaged`: users who became positive about the event (a count, not decayed). */
  popularity: { eventId: string; value: number; engaged: number }[];
  /**
   * First positive interactions of a user with an event, in the order given. Each is paired with
   * the user's `cooccurrenceWindow` latest positive events before it (in the order they became
   * positive) in the co-occurrence counts, weighted by `pairWeights`: by the store itself (memory),
   * or by a fold that merges the pairs of many users after the fact (PostgreSQL, see foldCooccurrence).
   */
  firstPositives: { userId: string; eventId: string; at: Date }[];
  /** How the first positives are to be paired. */
  pairing: CooccurrencePairing;
}

/** Additions to one (user, event) row; the `…At` columns keep the first (positive, applied) or the latest (dismissed). */
export interface PairDelta {
  userId: string;
  eventId: string;
  score: number;
  count: number;
  lastAt: Date;
  decayed: number;
  /**
   * What the pair adds to the user's affinity for each of the event's features: `decayed`, but
   * with dismissals at DISMISS_FEATURE_FACTOR. Affinities are summed from these when a feed is
   * ranked (see `loadFeedCandidates`), not stored per feature: a row per feature per interaction
   * would be most of what the drain writes.
   */
  featureWeight: number;
  positiveAt: Date | null;
  dismissedAt: Date | null;
  appliedAt: Date | null;
}

/** Where the model's state lives: PostgreSQL for the service, memory for offline evaluation. */
export interface ModelStore {
  /** Which of these (user, event) pairs already have a positive interaction, as `pairKey`s. */
  positivePairs(pairs: { userId: string; eventId: string }[]): Promise<Set<string>>;
  /** Adds the delta to the stored state. Rows are given in key order, so concurrent writers lock in one order. */
  add(delta: ModelDelta): Promise<void>;
}

/** Map key of a (user, event) pair. User ids never contain NUL (refused at the API). */
export const pairKey = (userId: string, eventId: string) => `${userId}\u0000${eventId}`;

/**
 * Folds a batch of interactions, in the order given, into the model. The workers and the rebuild
 * run this same code, so a rebuild replaying the rows in the order they were persisted yields the
 * incremental state (up to the last bits of sums added in another order).
 * Set-based: a fixed number of statements per batch, whatever its size or the users' histories.
 */
export async function applyInteractions(store: ModelStore, settings: ModelSettings, interactions: ModelInteraction[]): Promise<void> {
  if (interactions.length === 0) return;
  const positives = interactions.filter((i) => POSITIVE_ACTIONS.includes(i.action));
  const known = await store.positivePairs(uniqueBy(positives, (i) => pairKey(i.userId, i.eventId)));

  const pairs = new Map<string, PairDelta>();
  const popularity = new Map<string, { value: number; engaged: number }>();
  const firstPositives: ModelDelta['firstPositives'] = [];

  for (const { userId, eventId, action, occurredAt } of interactions) {
    const weight = settings.weights[action];
    const scale = epochScale(settings, occurredAt);
    const scaled = weight * scale;
    const key = pairKey(userId, eventId);
    // Counted once per user and event: the first positive interaction with it.
    const firstPositive = POSITIVE_ACTIONS.includes(action) && !known.has(key);
    if (firstPositive) known.add(key);

    const pair = pairs.get(key) ?? {
      userId,
      eventId,
      score: 0,
      count: 0,
      lastAt: occurredAt,
      decayed: 0,
      featureWeight: 0,
      positiveAt: null,
      dismissedAt: null,
      appliedAt: null,
    };
    pair.score += weight;
    pair.count += 1;
    pair.decayed += scaled;
    pair.featureWeight += action === 'DISMISS' ? scaled * DISMISS_FEATURE_FACTOR : scaled;
    if (occurredAt > pair.lastAt) pair.lastAt = occurredAt;
    if (firstPositive) pair.positiveAt = occurredAt;
    if (action === 'DISMISS' && (!pair.dismissedAt || occurredAt > pair.dismissedAt)) pair.dismissedAt = occurredAt;
    if (action === 'APPLY' && !pair.appliedAt) pair.appliedAt = occurredAt;
    pairs.set(key, pair);

    if (weight > 0) {
      const p = popularity.get(eventId) ?? { value: 0, engaged: 0 };
      p.value += scaled;
      if (firstPositive) p.engaged += 1;
      popularity.set(eventId, p);
    }

    // Paired with the user's latest positive events, counted when the second of the two becomes positive.
    if (firstPositive) firstPositives.push({ userId, eventId, at: occurredAt });
  }

  const byKey = <T>(map: Map<string, T>) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await store.add({
    pairs: byKey(pairs).map(([, pair]) => pair),
    popularity: byKey(popularity).map(([eventId, p]) => ({ eventId, ...p })),
    firstPositives,
    pairing: {
      cooccurrenceWindow: settings.cooccurrenceWindow,
      cooccurrenceDistanceDecay: settings.cooccurrenceDistanceDecay,
      cooccurrenceBackward: settings.cooccurrenceBackward,
    },
  });
}

function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()];
}
