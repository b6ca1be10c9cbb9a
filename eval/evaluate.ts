import { applyInteractions, type ModelSettings } from '../src/domain/model';
import { RECOMMENDATION_SETTINGS } from '../src/domain/fitted-settings';
import type { ItemModelSettings } from '../src/domain/item-model';
import { filterPredicate } from '../src/feed/filter';
import { seededRandom, type EvalData, type EvalInteraction } from './data';
import {
  collaborativeScores,
  feedCandidatesInMemory,
  itemModelOf,
  rankFeedInMemory,
  rankInMemory,
  similarInMemory,
  type FeedCandidates,
  type FeedSettings,
} from './feed';
import { itemKnnScorer } from './item-knn';
import { MemoryModelStore } from './memory-store';
import { referenceBlendScorer } from './reference-blend';
import { SequentialRules } from './sequential-rules';

/** How often the held-out event was in the top k, and how high (NDCG with one relevant item). */
export interface Accuracy {
  hitRate: number;
  ndcg: number;
}

/** One group of held-out interactions, measured every way. */
export interface SliceResult {
  users: number;
  /** The served feed against the whole catalogue: the headline. */
  feed: Accuracy & {
    /** The held-out event in the feed's top 50. */
    recall50: number;
    /** The held-out event among the feed's candidates at all. */
    candidateRecall: number;
  };
  /** Other recommenders against the whole catalogue, for comparison. */
  baselines: ({ name: 'decayed popularity' | 'item-kNN' | 'sequential rules' | 'EASE + sequential rules' } & Accuracy)[];
  /** The sampled protocol: the held-out event ranked among `negatives` events the user never touched. */
  models: ({ name: 'popularity' | 'full' } & Accuracy)[];
}

/** One of the feed's other shapes, measured beside baselines against the whole catalogue. */
export interface ShapeResult {
  /** Held-out interactions it was measured on. */
  users: number;
  served: Accuracy;
  baselines: ({ name: string } & Accuracy)[];
}

export interface EvalResult extends SliceResult {
  /** Users with too little history to hold anything out. (`users`: held-out interactions measured, one per user unless `points`.) */
  skippedUsers: number;
  k: number;
  negatives: number;
  /** Events in the catalogue. */
  catalogue: number;
  /** Share of the catalogue that is in some user's top k of the feed. */
  coverage: number;
  meanCandidates: number;
  /** Held-out events with fewer than COLD_THRESHOLD earlier interactions: the features must carry the feed there. */
  cold: SliceResult & { threshold: number };
  /**
   * `similar`: GET /events/:id/similar of the user's last positive event before the held-out one,
   * beside item-to-item (cosine, batch) and decayed popularity; `filtered`: the feed restricted to
   * the held-out event's category, beside item-kNN and decayed popularity within it. Absent when
   * not asked for (`shapes: false`).
   */
  similar?: ShapeResult;
  filtered?: ShapeResult;
  /** HR@k for k = 1 to CURVE_DEPTH on all held-out events, whole catalogue: the feed and each baseline. */
  hitRateAtK: Record<string, number[]>;
}

export interface EvalOptions {
  negatives?: number;
  k?: number;
  seed?: number;
  /**
   * For validation: hold out each user's last `points` positive interactions instead of one, each
   * measured at its instant and then learnt (so a later one is predicted from the earlier ones,
   * as it would be live). More held-out points, less noise for the fit to chase. Default 1, not learnt.
   */
  points?: number;
  /** Whether to measure similar events and the filtered feed too (default true; the fit skips them). */
  shapes?: boolean;
  /**
   * What the model knows when a held-out interaction is measured: 'past' (default), what came
   * before it; 'replay', also everything later of other users, as when a log is replayed through
   * the API and the feeds asked for afterwards (the batch split of published baselines). A user's
   * own interactions from their first held-out one on are learnt in time order either way.
   */
  knowing?: 'past' | 'replay';
  /**
   * How the item model is fitted (default: the shipped settings; null: none). Knowing the past, it
   * is fitted again every `itemModelEvery` interactions learnt, as the workers fit it now and then;
   * as a replay, once, on what is known at once.
   */
  itemModel?: ItemModelSettings | null;
  /**
   * Knowing the past, interactions learnt between two fits of the item model (default
   * ITEM_MODEL_EVERY). The workers fit it every minute; fewer makes the eval closer to them and
   * slower (a fit of 2,000 events takes seconds).
   */
  itemModelEvery?: number;
}

/** Knowing the past, the item model is fitted again after this many interactions (a tenth of the dev log). */
export const ITEM_MODEL_EVERY = 10_000;

/** The reference blend's history: a position further back weighs under a millionth (2^(−k/5)). */
const REFERENCE_HISTORY = 100;

/** A held-out event is cold when it had fewer interactions than this before it. */
export const COLD_THRESHOLD = 5;

/**
 * Leave-last-out evaluation of what users are served, replayed in time order. Each user's last
 * positive engagement with a new event is held out (see heldOutInteractions); every other
 * interaction is folded into the model in
 * time order through the workers' own `applyInteractions`. When the replay reaches a held-out
 * interaction, the user's feed is built and ranked at that instant, with only what was known by
 * then, as the service would serve it (`rankFeedInMemory`), against the whole catalogue; beside it
 * decayed popularity over the events the user has not touched yet, item-kNN (cosine on binary
 * positives, fitted on every interaction that is not held out, as batch baselines are), sequential
 * rules and EASE + sequential rules (learnt and fitted as the feed's model is), and the sampled
 * protocol. `feeds`: several ranking settings measured in one replay (the fit's coordinates).
 */
export async function evaluateMany(
  data: EvalData,
  model: ModelSettings,
  feeds: FeedSettings[],
  options: EvalOptions = {},
): Promise<EvalResult[]> {
  const { negatives = 100, k = 10, seed = 42, points = 1, shapes = true, knowing = 'past', itemModelEvery = ITEM_MODEL_EVERY } = options;
  const itemModel = options.itemModel === undefined ? RECOMMENDATION_SETTINGS.itemModel : options.itemModel;
  const ordered = data.interactions
    .map((interaction, index) => ({ interaction, index }))
    .sort((a, b) => a.interaction.at.getTime() - b.interaction.at.getTime() || a.index - b.index)
    .map(({ interaction }) => interaction);
  const heldOut = heldOutInteractions(ordered, points);
  const learnHeldOut = points > 1;
  const touched = new Map<string, Set<string>>();
  for (const { userId, eventId } of ordered) {
    const events = touched.get(userId) ?? new Set<string>();
    events.add(eventId);
    touched.set(userId, events);
  }

  const catalogue = [...new Set([...data.events.keys(), ...data.interactions.map((i) => i.eventId)])].sort();
  const itemKnn = itemKnnScorer(ordered.filter((i) => !heldOut.has(i)));
  const store = new MemoryModelStore(data.events);
  const sequentialRules = new SequentialRules();
  const random = seededRandom(seed);
  const earlier = new Map<string, number>(); // interactions with each event so far
  const shared = { all: new SharedTallies(k), cold: new SharedTallies(k) };
  const perFeed = feeds.map(() => ({
    all: new FeedTallies(k),
    cold: new FeedTallies(k),
    topK: new Set<string>(),
    candidates: 0,
    similar: new Tally(k),
    filtered: new Tally(k),
  }));
  const shapeBaselines = {
    similar: { itemToItem: new Tally(k), popularity: new Tally(k) },
    filtered: { itemKnn: new Tally(k), popularity: new Tally(k) },
  };
  // Ties of the shapes' rankings are broken apart, so the figures above stay those of a run without them.
  const shapeRandom = seededRandom(seed + 1);
  const rulesRandom = seededRandom(seed + 2);
  const blendRandom = seededRandom(seed + 3);
  let users = 0;
  const measured = new Set<string>();

  // Interactions between two held-out ones are folded in as one batch: the workers' batches give
  // the state one by one would.
  let pending: EvalInteraction[] = [];
  let sinceFit = 0;
  let fitted = false;
  const learn = (interaction: EvalInteraction) => {
    pending.push(interaction);
    sinceFit += 1;
    sequentialRules.learn(interaction);
    earlier.set(interaction.eventId, (earlier.get(interaction.eventId) ?? 0) + 1);
  };
  const catchUp = async () => {
    const batch = pending.map(({ userId, eventId, action, at }) => ({ userId, eventId, action, occurredAt: at }));
    pending = [];
    await applyInteractions(store, model, batch);
    if (itemModel && (!fitted || sinceFit >= itemModelEvery)) {
      fitted = true;
      sinceFit = 0;
      await store.fitItemModel(itemModel);
    }
  };

  // Under 'replay', what may be known at once: all but each user's held-out interactions and what follows them.
  const firstHeldOut = new Map<string, number>();
  for (const i of heldOut) firstHeldOut.set(i.userId, Math.min(i.at.getTime(), firstHeldOut.get(i.userId) ?? Infinity));
  const knownAtOnce = (i: EvalInteraction) =>
    knowing === 'replay' && !heldOut.has(i) && i.at.getTime() < (firstHeldOut.get(i.userId) ?? Infinity);
  for (const interaction of ordered) if (knownAtOnce(interaction)) learn(interaction);
  if (knowing === 'replay') {
    await catchUp(); // the first fit, on what is known at once
    sinceFit = -Infinity; // and the only one
  }
  for (const interaction of ordered) {
    if (knownAtOnce(interaction)) continue;
    if (!heldOut.has(interaction)) {
      learn(interaction);
      continue;
    }
    await catchUp();
    measure(interaction);
    if (learnHeldOut) learn(interaction);
  }

  function measure(interaction: EvalInteraction): void {
    const { userId, eventId } = interaction;
    const mine = touched.get(userId)!;
    if (catalogue.length - mine.size < negatives) return;
    users += 1;
    measured.add(userId);
    const cold = (earlier.get(eventId) ?? 0) < COLD_THRESHOLD;
    const slices = cold ? (['all', 'cold'] as const) : (['all'] as const);
    const sampled = new Set<string>();
    while (sampled.size < negatives) {
      const other = catalogue[Math.floor(random() * catalogue.length)]!;
      if (!mine.has(other)) sampled.add(other);
    }
    const sampledIds = [eventId, ...sampled];
    const seenByThen = new Set(store.pairs.get(userId)?.keys() ?? []);

    const popularityRank = rankAmong(catalogue, seenByThen, eventId, (id) => store.popularity.get(id) ?? 0, random);
    const knnScores = itemKnn(userId);
    const knnRank = rankAmong(catalogue, itemKnn.trainingEvents(userId), eventId, (id) => knnScores.get(id) ?? 0, random);
    const strangerRank = sampledRank(new Map(sampledIds.map((id) => [id, store.popularity.get(id) ?? 0])), eventId, random);
    const rulesRank = rankAmong(catalogue, seenByThen, eventId, sequentialRules.scorer(userId), rulesRandom);
    const history = store.latestPositives(userId, REFERENCE_HISTORY).map((p) => p.eventId);
    const blend = referenceBlendScorer(sequentialRules, store.itemWeights, history, userId, (id) => sequentialRules.popularity(id));
    const blendRank = rankAmong(catalogue, seenByThen, eventId, blend, blendRandom);
    for (const slice of slices) {
      shared[slice].popularity.add(popularityRank);
      shared[slice].itemKnn.add(knnRank);
      shared[slice].sequentialRules.add(rulesRank);
      shared[slice].referenceBlend.add(blendRank);
      shared[slice].sampledPopularity.add(strangerRank);
    }

    // The other shapes: similar events of the user's latest positive event, the feed within the held-out event's category.
    const last = shapes ? store.latestPositives(userId, 1)[0]?.eventId : undefined;
    const category = shapes ? (data.events.get(eventId)?.category ?? undefined) : undefined;
    const passes = category ? filterPredicate({ categories: [category] }) : undefined;
    const inCategory = (id: string) => passes!(data.events.get(id) ?? {});
    if (last) {
      const exclude = new Set([...seenByThen, last]);
      const cosine = itemKnn.similarTo(last);
      shapeBaselines.similar.itemToItem.add(rankAmong(catalogue, exclude, eventId, (id) => cosine.get(id) ?? 0, shapeRandom));
      shapeBaselines.similar.popularity.add(rankAmong(catalogue, exclude, eventId, (id) => store.popularity.get(id) ?? 0, shapeRandom));
    }
    if (category) {
      const categoryCatalogue = catalogue.filter(inCategory);
      const knn = (id: string) => knnScores.get(id) ?? 0;
      const popular = (id: string) => store.popularity.get(id) ?? 0;
      shapeBaselines.filtered.itemKnn.add(rankAmong(categoryCatalogue, itemKnn.trainingEvents(userId), eventId, knn, shapeRandom));
      shapeBaselines.filtered.popularity.add(rankAmong(categoryCatalogue, seenByThen, eventId, popular, shapeRandom));
    }

    feeds.forEach((settings, f) => {
      const tallies = perFeed[f]!;
      if (last) tallies.similar.add(rankOf(similarInMemory(store, settings, userId, last), eventId));
      if (category) tallies.filtered.add(rankOf(rankFeedInMemory(store, settings, userId, inCategory), eventId));
      const served = feedCandidatesInMemory(store, settings, userId);
      const feed = rankInMemory(store, settings, userId, served.ids, served.collaborative, served.itemModel).map((item) => item.eventId);
      tallies.candidates += feed.length;
      for (const id of feed.slice(0, k)) tallies.topK.add(id);
      const feedRank = feed.indexOf(eventId);
      // Ties broken the same way for every setting, however many are measured together.
      const fullRank = sampledRank(sampledScores(store, settings, userId, served, sampledIds), eventId, seededRandom(seed + users));
      for (const slice of slices) tallies[slice].add(feedRank === -1 ? undefined : feedRank, fullRank);
    });
  }

  const skippedUsers = new Set(ordered.map((i) => i.userId)).size - measured.size;
  return perFeed.map((tallies) => {
    const slice = (name: 'all' | 'cold'): SliceResult => ({
      users: tallies[name].feed.n,
      feed: tallies[name].feedResult(),
      baselines: [
        { name: 'decayed popularity', ...shared[name].popularity.result() },
        { name: 'item-kNN', ...shared[name].itemKnn.result() },
        { name: 'sequential rules', ...shared[name].sequentialRules.result() },
        { name: 'EASE + sequential rules', ...shared[name].referenceBlend.result() },
      ],
      models: [
        { name: 'popularity', ...shared[name].sampledPopularity.result() },
        { name: 'full', ...tallies[name].sampledFull.result() },
      ],
    });
    return {
      ...slice('all'),
      skippedUsers,
      k,
      negatives,
      catalogue: catalogue.length,
      coverage: catalogue.length ? tallies.topK.size / catalogue.length : 0,
      meanCandidates: users ? tallies.candidates / users : 0,
      cold: { ...slice('cold'), threshold: COLD_THRESHOLD },
      hitRateAtK: {
        feed: tallies.all.feed.curve(),
        'decayed popularity': shared.all.popularity.curve(),
        'item-kNN': shared.all.itemKnn.curve(),
        'sequential rules': shared.all.sequentialRules.curve(),
        'EASE + sequential rules': shared.all.referenceBlend.curve(),
      },
      ...(shapes && {
        similar: {
          users: tallies.similar.n,
          served: tallies.similar.result(),
          baselines: [
            { name: 'item-to-item', ...shapeBaselines.similar.itemToItem.result() },
            { name: 'decayed popularity', ...shapeBaselines.similar.popularity.result() },
          ],
        },
        filtered: {
          users: tallies.filtered.n,
          served: tallies.filtered.result(),
          baselines: [
            { name: 'item-kNN', ...shapeBaselines.filtered.itemKnn.result() },
            { name: 'decayed popularity', ...shapeBaselines.filtered.popularity.result() },
          ],
        },
      }),
    };
  });
}

/** `evaluateMany` with one ranking. */
export async function evaluate(data: EvalData, model: ModelSettings, feed: FeedSettings, options: EvalOptions = {}): Promise<EvalResult> {
  return (await evaluateMany(data, model, [feed], options))[0]!;
}

/**
 * Each user's last `points` positive first engagements (in time order: an interaction other than a
 * DISMISS with an event they had not touched before), for users with something else to learn from.
 * The feed shows only events the user has not interacted with, so what it must find is the next
 * one they engage with.
 */
export function heldOutInteractions(ordered: EvalInteraction[], points = 1): Set<EvalInteraction> {
  const last = new Map<string, EvalInteraction[]>();
  const counts = new Map<string, number>();
  const touched = new Set<string>();
  for (const interaction of ordered) {
    counts.set(interaction.userId, (counts.get(interaction.userId) ?? 0) + 1);
    const key = `${interaction.userId}\u0000${interaction.eventId}`;
    const first = !touched.has(key);
    touched.add(key);
    if (interaction.action === 'DISMISS' || !first) continue;
    const mine = last.get(interaction.userId) ?? [];
    mine.push(interaction);
    if (mine.length > points) mine.shift();
    last.set(interaction.userId, mine);
  }
  return new Set([...last].flatMap(([userId, mine]) => ((counts.get(userId) ?? 0) > mine.length ? mine : [])));
}

/**
 * Each held-out interaction (in time order) with the event its user was last positive about for
 * the first time before it, if any: what similar events are asked for.
 */
export function heldOutCases(
  ordered: EvalInteraction[],
  heldOut: Set<EvalInteraction>,
): { interaction: EvalInteraction; lastPositive?: string }[] {
  const lastPositive = new Map<string, string>();
  const touched = new Set<string>();
  const cases = [];
  for (const interaction of ordered) {
    const { userId, eventId } = interaction;
    if (heldOut.has(interaction)) {
      cases.push({ interaction, lastPositive: lastPositive.get(userId) });
      continue;
    }
    const key = `${userId}\u0000${eventId}`;
    if (interaction.action !== 'DISMISS' && !touched.has(key)) lastPositive.set(userId, eventId);
    touched.add(key);
  }
  return cases;
}

/** The deepest cut-off of the HR@k curves. */
export const CURVE_DEPTH = 50;

/** Hits and NDCG at k of ranks (0 = first; undefined = not ranked at all), and the hit rate at every k to CURVE_DEPTH. */
export class Tally {
  n = 0;
  private hits = 0;
  private gain = 0;
  private readonly atRank = new Array<number>(CURVE_DEPTH).fill(0);
  constructor(private readonly k: number) {}

  add(rank: number | undefined): void {
    this.n += 1;
    if (rank !== undefined && rank < CURVE_DEPTH) this.atRank[rank]! += 1;
    if (rank !== undefined && rank < this.k) {
      this.hits += 1;
      this.gain += 1 / Math.log2(rank + 2);
    }
  }

  result(): Accuracy {
    return { hitRate: this.n ? this.hits / this.n : 0, ndcg: this.n ? this.gain / this.n : 0 };
  }

  /** HR@k for k = 1 to CURVE_DEPTH. */
  curve(): number[] {
    let hits = 0;
    return this.atRank.map((count) => (this.n ? (hits += count) / this.n : 0));
  }
}

/** What does not depend on the ranking settings. */
class SharedTallies {
  readonly popularity: Tally;
  readonly itemKnn: Tally;
  readonly sequentialRules: Tally;
  readonly referenceBlend: Tally;
  readonly sampledPopularity: Tally;
  constructor(k: number) {
    this.popularity = new Tally(k);
    this.itemKnn = new Tally(k);
    this.sequentialRules = new Tally(k);
    this.referenceBlend = new Tally(k);
    this.sampledPopularity = new Tally(k);
  }
}

class FeedTallies {
  readonly feed: Tally;
  readonly sampledFull: Tally;
  private readonly top50 = new Tally(50);
  private found = 0;
  constructor(k: number) {
    this.feed = new Tally(k);
    this.sampledFull = new Tally(k);
  }

  add(feedRank: number | undefined, fullRank: number): void {
    this.feed.add(feedRank);
    this.top50.add(feedRank);
    if (feedRank !== undefined) this.found += 1;
    this.sampledFull.add(fullRank);
  }

  feedResult(): SliceResult['feed'] {
    const n = this.feed.n;
    return { ...this.feed.result(), recall50: this.top50.result().hitRate, candidateRecall: n ? this.found / n : 0 };
  }
}

/**
 * The rank of `target` among the catalogue's events not in `exclude`, by `score`; ties broken at
 * random (seeded), so that a recommender with many equal scores is not credited for them.
 */
function rankAmong(catalogue: string[], exclude: Set<string>, target: string, score: (id: string) => number, random: () => number): number {
  const own = score(target);
  let greater = 0;
  let ties = 0;
  for (const id of catalogue) {
    if (id === target || exclude.has(id)) continue;
    const value = score(id);
    if (value > own) greater += 1;
    else if (value === own) ties += 1;
  }
  return greater + Math.floor(random() * (ties + 1));
}

/** The place of `eventId` in a ranking (0 = first), undefined when it is not in it. */
function rankOf(items: { eventId: string }[], eventId: string): number | undefined {
  const at = items.findIndex((item) => item.eventId === eventId);
  return at === -1 ? undefined : at;
}

function sampledRank(scores: Map<string, number>, target: string, random: () => number): number {
  const own = scores.get(target)!;
  let greater = 0;
  let ties = 0;
  for (const [id, score] of scores) {
    if (id === target) continue;
    if (score > own) greater += 1;
    else if (score === own) ties += 1;
  }
  return greater + Math.floor(random() * (ties + 1));
}

/**
 * The feed's scores of these events for the user, each scored as it would be among the feed's
 * candidates: every signal relative to its greatest value among them, as the served feed (and the
 * reference blend, over every event) has it, not to its greatest among the sampled events, where
 * one random event's faint co-occurrence would count as much as the feed's strongest. One
 * difference: the feed takes co-occurrence candidates from each recent event's strongest
 * neighbours, and the item model's score from its best; here the sampled events' are looked up.
 */
export function sampledScores(
  store: MemoryModelStore,
  settings: FeedSettings,
  userId: string,
  served: FeedCandidates,
  eventIds: string[],
): Map<string, number> {
  const wanted = new Set(eventIds);
  const collaborative = new Map(served.collaborative);
  for (const [id, signal] of collaborativeScores(store, settings.ranking, userId, () => wanted)) collaborative.set(id, signal);
  const itemModel = new Map(served.itemModel);
  for (const [id, score] of itemModelOf(store, settings.ranking, userId)) if (wanted.has(id)) itemModel.set(id, score);
  // The feed leaves out the events the user interacted with: they rank last.
  const scores = new Map(eventIds.map((id) => [id, -Infinity]));
  for (const item of rankInMemory(store, settings, userId, new Set([...served.ids, ...eventIds]), collaborative, itemModel)) {
    if (wanted.has(item.eventId)) scores.set(item.eventId, item.score);
  }
  return scores;
}
