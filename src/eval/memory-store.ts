import { pairKey, type EventFeatures, type ModelDelta, type ModelStore, type PositiveEvent } from '../domain/model';

export interface Pair {
  decayed: number;
  positiveAt: Date | null;
  excluded: boolean;
}

/**
 * The model's state in memory, for offline evaluation: the same `applyInteractions` writes into it
 * as into PostgreSQL. Event ids are interned to numbers to keep large co-occurrence tables small.
 */
export class MemoryModelStore implements ModelStore {
  readonly pairs = new Map<string, Map<string, Pair>>();
  readonly affinities = new Map<string, Map<string, number>>();
  readonly popularity = new Map<string, number>();
  readonly engaged = new Map<string, number>();
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  /** event → other event → value, by interned ids */
  private readonly cooccurrence = new Map<number, Map<number, number>>();

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

  async positivePairs(pairs: { userId: string; eventId: string }[]) {
    return new Set(pairs.filter((p) => this.pairs.get(p.userId)?.get(p.eventId)?.positiveAt).map((p) => pairKey(p.userId, p.eventId)));
  }

  async recentPositives(userIds: string[], limit: number) {
    const latest = new Map<string, PositiveEvent[]>();
    for (const userId of userIds) {
      const positives = [...(this.pairs.get(userId) ?? new Map<string, Pair>())]
        .filter(([, pair]) => pair.positiveAt !== null)
        .sort(([a, pa], [b, pb]) => pb.positiveAt!.getTime() - pa.positiveAt!.getTime() || (a < b ? -1 : 1))
        .slice(0, limit)
        .map(([eventId, pair]) => ({ eventId, at: pair.positiveAt! }));
      latest.set(userId, positives);
    }
    return latest;
  }

  async eventFeatures(eventIds: string[]) {
    return new Map(eventIds.filter((id) => this.events.has(id)).map((id) => [id, this.events.get(id)!]));
  }

  async add(delta: ModelDelta) {
    for (const change of delta.pairs) {
      const byEvent = this.pairs.get(change.userId) ?? new Map<string, Pair>();
      this.pairs.set(change.userId, byEvent);
      const pair = byEvent.get(change.eventId) ?? { decayed: 0, positiveAt: null, excluded: false };
      pair.decayed += change.decayed;
      pair.positiveAt ??= change.positiveAt;
      pair.excluded ||= change.dismissedAt !== null || change.appliedAt !== null;
      byEvent.set(change.eventId, pair);
    }
    for (const { userId, feature, value } of delta.affinities) {
      const features = this.affinities.get(userId) ?? new Map<string, number>();
      this.affinities.set(userId, features);
      features.set(feature, (features.get(feature) ?? 0) + value);
    }
    for (const { eventId, value, engaged } of delta.popularity) {
      this.popularity.set(eventId, (this.popularity.get(eventId) ?? 0) + value);
      if (engaged) this.engaged.set(eventId, (this.engaged.get(eventId) ?? 0) + engaged);
    }
    for (const { eventId, otherEventId, value } of delta.cooccurrence) {
      const id = this.intern(eventId);
      const other = this.intern(otherEventId);
      const row = this.cooccurrence.get(id) ?? new Map<number, number>();
      this.cooccurrence.set(id, row);
      row.set(other, (row.get(other) ?? 0) + value);
    }
  }

  /** The event's `limit` strongest co-occurring events by raw value, as the feed's index reads them. */
  neighbours(eventId: string, limit: number): string[] {
    const id = this.ids.get(eventId);
    const row = id === undefined ? undefined : this.cooccurrence.get(id);
    if (!row) return [];
    // The strongest `limit` in one pass (rows of popular events run to thousands): kept sorted, best first.
    const best: [number, number][] = [];
    const before = (a: [number, number], b: [number, number]) => a[1] > b[1] || (a[1] === b[1] && a[0] < b[0]);
    for (const entry of row) {
      if (best.length === limit && !before(entry, best[limit - 1]!)) continue;
      let i = best.length;
      while (i > 0 && before(entry, best[i - 1]!)) i -= 1;
      best.splice(i, 0, entry);
      if (best.length > limit) best.pop();
    }
    return best.map(([other]) => this.names[other]!);
  }

  /** The co-occurrence of two events, normalised by their engaged users (as the feed reads it). */
  similarity(a: string, b: string): number {
    const x = this.ids.get(a);
    const y = this.ids.get(b);
    if (x === undefined || y === undefined) return 0;
    const value = this.cooccurrence.get(x)?.get(y) ?? 0;
    return value ? value / Math.sqrt((this.engaged.get(a) ?? 1e-300) * (this.engaged.get(b) ?? 1e-300)) : 0;
  }
}
