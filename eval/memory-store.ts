import {
  featuresOf,
  pairKey,
  pairWeights,
  type EventFeatures,
  type ModelDelta,
  type ModelStore,
  type PositiveEvent,
} from '../src/domain/model';
import { fitItemModel, type ItemModelSettings, type ItemNeighbours } from '../src/domain/item-model';

export interface Pair {
  decayed: number;
  featureWeight: number;
  positiveAt: Date | null;
  /** The latest dismissal. */
  dismissedAt: Date | null;
  /** Dismissed or applied to. */
  excluded: boolean;
}

/** What the ranking sees of an event the catalogue does not hold. */
export const NO_FEATURES: EventFeatures = { category: null, tags: [], city: null, organizerId: '', kind: '' };

/**
 * The model's state in memory, for offline evaluation: the same `applyInteractions` writes into it
 * as into PostgreSQL. Event ids are interned to numbers to keep large co-occurrence tables small.
 */
export class MemoryModelStore implements ModelStore {
  readonly pairs = new Map<string, Map<string, Pair>>();
  readonly popularity = new Map<string, number>();
  readonly engaged = new Map<string, number>();
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  /** event → other event → value, by interned ids */
  private readonly counts = new Map<number, Map<number, number>>();
  /** Bumped by every change, so that orders worked out from the state are redone only when it changed. */
  private version = 0;
  private ordered?: { version: number; byPopularity: string[]; neverEngaged: string[] };
  private readonly sortedRows = new Map<number, { version: number; ids: string[] }>();
  /** Each user's positive events in the order they were applied (positive_seq in PostgreSQL): the co-occurrence window. */
  private readonly applied = new Map<string, string[]>();
  /** Each user's positive events, oldest first (ties: in the order applied), so the latest are read off the end. */
  private readonly positives = new Map<string, PositiveEvent[]>();
  private readonly profiles = new Map<string, { version: number; profileEvents: number; affinities: Map<string, number> }>();
  private readonly featureKeys = new Map<string, string[]>();

  /** The item model as last fitted (fitItemModel), as the feed reads it: empty until then. */
  itemNeighbours: ItemNeighbours = new Map();
  /** The same fit with every positive weight kept, for the reference blend (reference-blend.ts). */
  itemWeights: ItemNeighbours = new Map();

  constructor(readonly events: Map<string, EventFeatures>) {}

  /** Fits the item model on the positives known now, over the events most users were positive about, as the workers do. */
  async fitItemModel(settings: ItemModelSettings): Promise<void> {
    const candidates = [...this.engaged]
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, settings.items)
      .map(([id]) => id);
    const place = new Map(candidates.map((id, i) => [id, i]));
    const histories = [...this.positives.values()].map((list) =>
      list.flatMap((p) => (place.has(p.eventId) ? [place.get(p.eventId)!] : [])).reverse(),
    );
    this.itemWeights = (await fitItemModel(histories, candidates, { ...settings, neighbours: Infinity })).neighbours;
    this.itemNeighbours = new Map([...this.itemWeights].map(([id, row]) => [id, row.slice(0, settings.neighbours)]));
  }

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

  /** The user's latest positive events, newest first (ties: the later applied first), at most `limit`: the SQL's order. */
  latestPositives(userId: string, limit: number): PositiveEvent[] {
    const positives = this.positives.get(userId) ?? [];
    return positives.slice(Math.max(0, positives.length - limit)).reverse();
  }

  /** `featuresOf` the event, worked out once: events do not change during a replay. */
  featuresOf(eventId: string): string[] {
    let keys = this.featureKeys.get(eventId);
    if (!keys) this.featureKeys.set(eventId, (keys = featuresOf(this.events.get(eventId) ?? NO_FEATURES)));
    return keys;
  }

  /**
   * The user's feature affinities as the feed's query sums them: over their `profileEvents`
   * latest positive events (latestPositives) and their `profileEvents` latest events they only
   * dismissed (dismissed_at, then id), each event's feature weight added to each of its features.
   * Events the catalogue does not hold add nothing (the query joins them).
   */
  affinitiesOf(userId: string, profileEvents: number): Map<string, number> {
    const cached = this.profiles.get(userId);
    if (cached?.version === this.version && cached.profileEvents === profileEvents) return cached.affinities;
    const pairs = this.pairs.get(userId) ?? new Map<string, Pair>();
    const dismissedOnly = [...pairs]
      .filter(([, pair]) => pair.positiveAt === null && pair.dismissedAt !== null)
      .sort(([a, x], [b, y]) => y.dismissedAt!.getTime() - x.dismissedAt!.getTime() || (a < b ? -1 : 1))
      .slice(0, profileEvents)
      .map(([eventId]) => eventId);
    const affinities = new Map<string, number>();
    for (const eventId of [...this.latestPositives(userId, profileEvents).map((p) => p.eventId), ...dismissedOnly]) {
      if (!this.events.has(eventId)) continue;
      const weight = pairs.get(eventId)!.featureWeight;
      for (const feature of this.featuresOf(eventId)) affinities.set(feature, (affinities.get(feature) ?? 0) + weight);
    }
    this.profiles.set(userId, { version: this.version, profileEvents, affinities });
    return affinities;
  }

  async add(delta: ModelDelta) {
    this.version += 1;
    for (const change of delta.pairs) {
      const byEvent = this.pairs.get(change.userId) ?? new Map<string, Pair>();
      this.pairs.set(change.userId, byEvent);
      const pair = byEvent.get(change.eventId) ?? { decayed: 0, featureWeight: 0, positiveAt: null, dismissedAt: null, excluded: false };
      pair.decayed += change.decayed;
      pair.featureWeight += change.featureWeight;
      if (change.dismissedAt && (!pair.dismissedAt || change.dismissedAt > pair.dismissedAt)) pair.dismissedAt = change.dismissedAt;
      if (pair.positiveAt === null && change.positiveAt !== null) this.addPositive(change.userId, change.eventId, change.positiveAt);
      pair.positiveAt ??= change.positiveAt;
      pair.excluded ||= change.dismissedAt !== null || change.appliedAt !== null;
      byEvent.set(change.eventId, pair);
    }
    for (const { eventId, value, engaged } of delta.popularity) {
      this.popularity.set(eventId, (this.popularity.get(eventId) ?? 0) + value);
      if (engaged) this.engaged.set(eventId, (this.engaged.get(eventId) ?? 0) + engaged);
    }
    // As foldCooccurrence pairs them in PostgreSQL: with the user's latest positives applied before each.
    const count = (a: string, b: string, value: number) => {
      if (value === 0) return;
      const id = this.intern(a);
      const row = this.counts.get(id) ?? new Map<number, number>();
      this.counts.set(id, row);
      const other = this.intern(b);
      row.set(other, (row.get(other) ?? 0) + value);
    };
    for (const { userId, eventId } of delta.firstPositives) {
      const before = this.applied.get(userId) ?? [];
      this.applied.set(userId, before);
      const window = before.slice(-delta.pairing.cooccurrenceWindow);
      window.forEach((earlier, i) => {
        const { forward, backward } = pairWeights(delta.pairing, window.length - i);
        count(earlier, eventId, forward);
        count(eventId, earlier, backward);
      });
      before.push(eventId);
    }
  }

  private addPositive(userId: string, eventId: string, at: Date): void {
    const list = this.positives.get(userId) ?? [];
    this.positives.set(userId, list);
    // Ties in time keep the order the positives were applied in (positive_seq): the later one is the latest.
    const added = { eventId, at };
    let i = list.length;
    while (i > 0 && added.at < list[i - 1]!.at) i -= 1; // replays run in time order: almost always at the end
    list.splice(i, 0, added);
  }

  /** Events by decayed popularity, best first (ties by id), as the feed's popularity index reads them. */
  byPopularity(): string[] {
    return this.orders().byPopularity;
  }

  /** Events no one engaged with yet, by id. */
  neverEngaged(): string[] {
    return this.orders().neverEngaged;
  }

  private orders() {
    if (this.ordered?.version !== this.version) {
      const byPopularity = [...this.popularity].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
      const neverEngaged = [...this.events.keys()].filter((id) => !this.popularity.has(id)).sort();
      this.ordered = { version: this.version, byPopularity, neverEngaged };
    }
    return this.ordered;
  }

  /** The event's `limit` strongest co-occurring events by raw value, as the feed's index reads them. */
  neighbours(eventId: string, limit: number): string[] {
    const id = this.ids.get(eventId);
    const row = id === undefined ? undefined : this.counts.get(id);
    if (!row) return [];
    // Rows of popular events run to thousands: sorted once per state, however many rankings read them.
    let sorted = this.sortedRows.get(id!);
    if (sorted?.version !== this.version) {
      const ids = [...row]
        .sort((a, b) => b[1] - a[1] || (this.names[a[0]]! < this.names[b[0]]! ? -1 : 1))
        .map(([other]) => this.names[other]!);
      sorted = { version: this.version, ids };
      this.sortedRows.set(id!, sorted);
    }
    return sorted.ids.slice(0, limit);
  }

  /** The co-occurrence of a recent event with a candidate, as stored (one direction of a pair's row). */
  cooccurrence(recent: string, candidate: string): number {
    const x = this.ids.get(recent);
    const y = this.ids.get(candidate);
    if (x === undefined || y === undefined) return 0;
    return this.counts.get(x)?.get(y) ?? 0;
  }

  /** The co-occurrence of a recent event with a candidate, normalised by their engaged users as the feed's query does. */
  similarity(recent: string, candidate: string, exponent: number): number {
    const value = this.cooccurrence(recent, candidate);
    if (!value) return 0;
    const engaged = (id: string) => Math.max(this.engaged.get(id) ?? 0, 1);
    return value / (engaged(recent) ** exponent * engaged(candidate) ** (1 - exponent));
  }
}
