import type { Action, ActionWeights } from './weights';

/** What the derived tables are built with; a change is applied by a rebuild. */
export interface ModelSettings {
  weights: ActionWeights;
  halfLifeDays: number;
  /** ISO 8601: decayed values are stored scaled to this instant. */
  epoch: string;
}

/**
 * Actions that show interest (all but DISMISS): they feed the collaborative signal ("people who
 * saved this also saved"). Views count too, with the rest: on view-heavy data they are most of
 * what links one event to another.
 */
export const POSITIVE_ACTIONS: readonly Action[] = ['VIEW', 'SAVE', 'CLICK', 'APPLY'];

/** A dismissal teaches the model about the event's features, mildly: similar events drop a little. */
export const DISMISS_FEATURE_FACTOR = 0.3;

/** How many of the user's latest positive events a new positive one is paired with. Bounds the cost per interaction. */
export const COOCCURRENCE_FANOUT = 20;

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
  if (event.category) keys.add(`category:${event.category.trim().toLowerCase()}`);
  for (const tag of event.tags) keys.add(`tag:${tag.trim().toLowerCase()}`);
  if (event.city) keys.add(`city:${event.city.trim().toLowerCase()}`);
  if (event.organizerId) keys.add(`organizer:${event.organizerId}`);
  if (event.kind) keys.add(`kind:${event.kind}`);
  return [...keys];
}

export function featureType(feature: string): FeatureType {
  return feature.slice(0, feature.indexOf(':')) as FeatureType;
}

/** One accepted interaction, as the model sees it. */
export interface ModelInteraction {
  userId: string;
  eventId: string;
  action: Action;
  createdAt: Date;
}

/** Where the model's state lives: PostgreSQL for the service, memory for offline evaluation. */
export interface ModelStore {
  /** The pair's first positive interaction so far, if any. */
  firstPositiveAt(userId: string, eventId: string): Promise<Date | null>;
  /** The user's latest events with a positive interaction, newest first, other than `exceptEventId`. */
  recentPositiveEvents(userId: string, limit: number, exceptEventId: string): Promise<string[]>;
  eventFeatures(eventId: string): Promise<EventFeatures | undefined>;
  addToPair(change: PairChange): Promise<void>;
  addToAffinities(userId: string, deltas: Map<string, number>): Promise<void>;
  /** Adds to the event's popularity and, on a user's first engagement with it, to its count of engaged users. */
  addToPopularity(eventId: string, delta: number, engagedDelta: number): Promise<void>;
  /** Adds `delta` to both (a, b) and (b, a) for each other event. */
  addToCooccurrence(eventId: string, others: string[], delta: number): Promise<void>;
}

export interface PairChange {
  userId: string;
  eventId: string;
  weight: number;
  scaledWeight: number;
  at: Date;
  positive: boolean;
  dismissed: boolean;
  applied: boolean;
}

/**
 * Folds one interaction into the model. The workers and the rebuild run this same code, so a
 * rebuild replaying the rows in the order they were persisted yields the incremental state.
 * Cost is bounded whatever the user's history: a fixed number of statements, at most
 * COOCCURRENCE_FANOUT pairs.
 */
export async function applyInteraction(store: ModelStore, settings: ModelSettings, interaction: ModelInteraction): Promise<void> {
  const { userId, eventId, action, createdAt } = interaction;
  const weight = settings.weights[action];
  const scaled = weight * epochScale(settings, createdAt);
  const positive = POSITIVE_ACTIONS.includes(action);
  const firstPositive = positive && (await store.firstPositiveAt(userId, eventId)) === null;

  await store.addToPair({
    userId,
    eventId,
    weight,
    scaledWeight: scaled,
    at: createdAt,
    positive,
    dismissed: action === 'DISMISS',
    applied: action === 'APPLY',
  });

  const event = await store.eventFeatures(eventId);
  if (event) {
    const delta = action === 'DISMISS' ? scaled * DISMISS_FEATURE_FACTOR : scaled;
    await store.addToAffinities(userId, new Map(featuresOf(event).map((feature) => [feature, delta])));
  }
  const scale = epochScale(settings, createdAt);
  if (weight > 0) await store.addToPopularity(eventId, scaled, firstPositive ? scale : 0);

  // Counted once per user and pair of events: when the second of the two becomes positive.
  if (firstPositive) {
    const others = await store.recentPositiveEvents(userId, COOCCURRENCE_FANOUT, eventId);
    if (others.length > 0) await store.addToCooccurrence(eventId, others, scale);
  }
}
