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
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  /** key: a * 2^26 + b (room for 67M events) → value */
  private readonly cooccurrence = new Map<number, number>();
  private neighbourIndex?: Map<string, { eventId: string; value: number }[]>;

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

  async addToPopularity(eventId: string, delta: number) {
    this.popularity.set(eventId, (this.popularity.get(eventId) ?? 0) + delta);
  }

  async addToCooccurrence(eventId: string, others: string[], delta: number) {
    const a = this.intern(eventId);
    for (const other of others) {
      const b = this.intern(other);
      for (const key of [a * 2 ** 26 + b, b * 2 ** 26 + a]) this.cooccurrence.set(key, (this.cooccurrence.get(key) ?? 0) + delta);
    }
    this.neighbourIndex = undefined;
  }

  /** Each event's strongest neighbours, as the feed reads them (top `limit` by value). */
  neighbours(eventId: string, limit: number): { eventId: string; value: number }[] {
    if (!this.neighbourIndex) {
      const all = new Map<string, { eventId: string; value: number }[]>();
      for (const [key, value] of this.cooccurrence) {
        const from = this.names[Math.floor(key / 2 ** 26)]!;
        const list = all.get(from) ?? [];
        list.push({ eventId: this.names[key % 2 ** 26]!, value });
        all.set(from, list);
      }
      for (const list of all.values()) list.sort((x, y) => y.value - x.value || (x.eventId < y.eventId ? -1 : 1)).splice(limit);
      this.neighbourIndex = all;
    }
    return this.neighbourIndex.get(eventId) ?? [];
  }
}
