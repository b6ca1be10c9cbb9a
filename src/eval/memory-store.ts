import type { EventFeatures, ModelStore, PairChange } from '../domain/model';

interface Pair {
  decayed: number;
  positiveAt: Date | null;
  excluded: boolean;
}

/**
 * The model's state in memory, for offline evaluation: the same `applyInteraction` writes into it
 * as into PostgreSQL. Event ids are interned to numbers to keep large co-occurrence tables small.
 */
export class MemoryModelStore implements ModelStore {
  readonly pairs = new Map<string, Map<string, Pair>>();
  readonly affinities = new Map<string, Map<string, number>>();
  readonly popularity = new Map<string, number>();
  readonly engaged = new Map<string, number>();
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  /** key: a * 2^26 + b (room for 67M events) → value */
  private readonly cooccurrence = new Map<number, number>();

  constructor(readonly events: Map<string, EventFeatures>) {}

  private intern(eventId: string): number {
    let id = this.ids.get(eventId);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(eventId, id);
      this.names.push(eventId);
    }
    return id;
  }

  async firstPositiveAt(userId: string, eventId: string) {
    return this.pairs.get(userId)?.get(eventId)?.positiveAt ?? null;
  }

  async recentPositiveEvents(userId: string, limit: number, exceptEventId: string) {
    return [...(this.pairs.get(userId) ?? new Map<string, Pair>())]
      .filter(([eventId, pair]) => pair.positiveAt !== null && eventId !== exceptEventId)
      .sort(([a, pa], [b, pb]) => pb.positiveAt!.getTime() - pa.positiveAt!.getTime() || (a < b ? -1 : 1))
      .slice(0, limit)
      .map(([eventId]) => eventId);
  }

  async eventFeatures(eventId: string) {
    return this.events.get(eventId);
  }

  async addToPair(change: PairChange) {
    const byEvent = this.pairs.get(change.userId) ?? new Map<string, Pair>();
    this.pairs.set(change.userId, byEvent);
    const pair = byEvent.get(change.eventId) ?? { decayed: 0, positiveAt: null, excluded: false };
    pair.decayed += change.scaledWeight;
    if (change.positive && pair.positiveAt === null) pair.positiveAt = change.at;
    pair.excluded ||= change.dismissed || change.applied;
    byEvent.set(change.eventId, pair);
  }

  async addToAffinities(userId: string, deltas: Map<string, number>) {
    const features = this.affinities.get(userId) ?? new Map<string, number>();
    this.affinities.set(userId, features);
    for (const [feature, delta] of deltas) features.set(feature, (features.get(feature) ?? 0) + delta);
  }

  async addToPopularity(eventId: string, delta: number, engagedDelta: number) {
    this.popularity.set(eventId, (this.popularity.get(eventId) ?? 0) + delta);
    if (engagedDelta) this.engaged.set(eventId, (this.engaged.get(eventId) ?? 0) + engagedDelta);
  }

  async addToCooccurrence(eventId: string, others: string[], delta: number) {
    const a = this.intern(eventId);
    for (const other of others) {
      const b = this.intern(other);
      for (const key of [a * 2 ** 26 + b, b * 2 ** 26 + a]) this.cooccurrence.set(key, (this.cooccurrence.get(key) ?? 0) + delta);
    }
  }

  /** The co-occurrence of two events, normalised by their engaged users (as the feed reads it). */
  similarity(a: string, b: string): number {
    const x = this.ids.get(a);
    const y = this.ids.get(b);
    if (x === undefined || y === undefined) return 0;
    const value = this.cooccurrence.get(x * 2 ** 26 + y) ?? 0;
    return value ? value / Math.sqrt((this.engaged.get(a) ?? 1e-300) * (this.engaged.get(b) ?? 1e-300)) : 0;
  }
}
