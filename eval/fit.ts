import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ModelSettings } from '../src/domain/model';
import { RECOMMENDATION_SETTINGS, type RecommendationSettings } from '../src/domain/fitted-settings';
import { squeezed, type EvalData } from './data';
import { evaluate, evaluateMany, heldOutInteractions, type EvalOptions, type EvalResult } from './evaluate';
import type { FeedSettings } from './feed';
import type { ItemModelSettings } from '../src/domain/item-model';

/**
 * What the fit may change: the model's half-life and co-occurrence pairing, the ranking, the
 * candidate sources, the item model's regularisation.
 */
export interface Fittable {
  model: Pick<ModelSettings, 'halfLifeDays' | 'cooccurrenceWindow' | 'cooccurrenceDistanceDecay' | 'cooccurrenceBackward'>;
  feed: FeedSettings;
  itemModel: ItemModelSettings;
}

/** A setting's value, or the values of settings moved together (a pair). */
type Value = number | readonly number[];

/**
 * One coordinate of the search and the values it tries. Each builder is typed by its own values
 * (a number, or a pair); the search only hands a coordinate values from its own list.
 */
interface Coordinate<V extends Value = Value> {
  name: string;
  values: V[];
  get(s: Fittable): V;
  set(s: Fittable, value: V): Fittable;
  /** Whether a change needs the model replayed or the item model fitted again (else every value is measured in one replay). */
  model?: boolean;
}

type RankingKey = 'recencyDecay' | 'similarityExponent' | 'recentPositives' | 'popularityExponent' | 'priorShrinkage' | 'itemModelHalfLife';
const ranking = (name: string, key: RankingKey, values: number[]): Coordinate<number> => ({
  name,
  values,
  get: (s) => s.feed.ranking[key] ?? 0,
  set: (s, value) => ({ ...s, feed: { ...s.feed, ranking: { ...s.feed.ranking, [key]: value } } }),
});
/**
 * Two ranking settings moved together, every pair of their values. The priors' shrinkage and the
 * recency decay trade off: as popularity and features give way to a well-supported collaborative
 * signal, how much it follows the user's latest events matters more. On the dev log neither alone
 * gains what a move needs, the pair does (docs/recommendation-model.md).
 */
const rankingPair = (a: RankingKey, as: number[], b: RankingKey, bs: number[]): Coordinate<readonly [number, number]> => ({
  name: `${a}+${b}`,
  values: as.flatMap((x) => bs.map((y) => [x, y] as const)),
  get: (s) => [s.feed.ranking[a] ?? 0, s.feed.ranking[b] ?? 0],
  set: (s, [x, y]) => ({ ...s, feed: { ...s.feed, ranking: { ...s.feed.ranking, [a]: x, [b]: y } } }),
});
const weight = (key: 'popularity' | 'features' | 'itemModel', values: number[]): Coordinate<number> => ({
  name: `weights.${key}`,
  values,
  get: (s) => s.feed.ranking.weights[key] ?? 0,
  set: (s, value) => ({
    ...s,
    feed: { ...s.feed, ranking: { ...s.feed.ranking, weights: { ...s.feed.ranking.weights, [key]: value } } },
  }),
});
const limit = (key: 'neighboursPerEvent' | 'collaborative' | 'itemModel', values: number[]): Coordinate<number> => ({
  name: `candidates.${key}`,
  values,
  get: (s) => s.feed.candidates[key] ?? 0,
  set: (s, value) => ({ ...s, feed: { ...s.feed, candidates: { ...s.feed.candidates, [key]: value } } }),
});
const modelSetting = (key: keyof Fittable['model'], values: number[]): Coordinate<number> => ({
  name: `model.${key}`,
  values,
  model: true,
  get: (s) => s.model[key],
  set: (s, value) => ({ ...s, model: { ...s.model, [key]: value } }),
});

const itemModelSetting = (key: 'lambda', values: number[]): Coordinate<number> => ({
  name: `itemModel.${key}`,
  values,
  model: true,
  get: (s) => s.itemModel[key],
  set: (s, value) => ({ ...s, itemModel: { ...s.itemModel, [key]: value } }),
});

/** The search space. The collaborative weight stays 1: the blend is invariant to scaling all weights. */
const COORDINATES: Coordinate[] = [
  ranking('recencyDecay', 'recencyDecay', [0, 0.25, 0.5, 0.75, 1, 1.5, 2]),
  ranking('similarityExponent', 'similarityExponent', [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]),
  ranking('recentPositives', 'recentPositives', [5, 10, 20, 40]),
  weight('popularity', [0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8]),
  ranking('popularityExponent', 'popularityExponent', [0.1, 0.25, 0.5, 1]),
  weight('features', [0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.2, 1.6]),
  ranking('priorShrinkage', 'priorShrinkage', [0, 0.01, 0.03, 0.1, 0.3, 1]),
  rankingPair('priorShrinkage', [0, 0.01, 0.03, 0.1], 'recencyDecay', [0.5, 0.75, 1, 1.25]),
  weight('itemModel', [0, 0.2, 0.35, 0.5, 0.7, 1]),
  ranking('itemModelHalfLife', 'itemModelHalfLife', [2, 3, 5, 10, 20]),
  limit('itemModel', [50, 100, 200]),
  itemModelSetting('lambda', [25, 50, 100, 200, 400]),
  limit('neighboursPerEvent', [25, 50, 100, 200]),
  limit('collaborative', [100, 200, 400]),
  modelSetting('halfLifeDays', [7, 30, 90, 365]),
  modelSetting('cooccurrenceWindow', [10, 20, 40]),
  modelSetting('cooccurrenceDistanceDecay', [0, 0.5, 1]),
  modelSetting('cooccurrenceBackward', [0, 0.25, 0.5, 1]),
];

/** The coordinates' names, as `only` (`--fit-only`) takes them. */
export const COORDINATE_NAMES = COORDINATES.map((c) => c.name);

/** Every setting the search can move to from `from`, one coordinate at a time. */
export const searchSpace = (from: Fittable = START): Fittable[] => COORDINATES.flatMap((c) => c.values.map((v) => c.set(from, v as never)));

const show = (value: Value) => (typeof value === 'number' ? String(value) : `(${value.join(', ')})`);

/**
 * Where the search starts, whatever the settings file holds, so that the fit is reproducible:
 * textbook priors (cosine similarity, a mild preference for the latest events, small popularity and
 * feature weights; pairs weighted by 1 / distance and read forward, as sequential rules do, with
 * the reverse direction at half weight; the item model with the README's half-life of 5 positions).
 */
const START: Fittable = {
  model: { halfLifeDays: 30, cooccurrenceWindow: 20, cooccurrenceDistanceDecay: 1, cooccurrenceBackward: 0.5 },
  feed: {
    ranking: {
      weights: { collaborative: 1, popularity: 0.1, features: 0.1, itemModel: 0.35 },
      recencyDecay: 0.5,
      similarityExponent: 0.5,
      recentPositives: 20,
      popularityExponent: 1,
      priorShrinkage: 0,
      itemModelHalfLife: 5,
    },
    candidates: {
      neighboursPerEvent: 50,
      collaborative: 200,
      byFeature: 100,
      popular: 100,
      soonest: 50,
      topFeatures: 30,
      profileEvents: 200,
      itemModel: 100,
    },
  },
  itemModel: { items: 2000, minUsers: 3, lambda: 100, neighbours: 50 },
};

/**
 * A move must gain at least this much validation NDCG@10: on a log of a few hundred users the
 * noise is about ±0.01, and a value that only wins a third decimal is more likely tuned to the
 * log than right for the domain.
 */
const MIN_GAIN = 0.002;
const ROUNDS = 2;
/** Held-out points per user in the validation split (see EvalOptions.points). */
const VALIDATION_POINTS = 5;

export interface FitResult {
  settings: Pick<RecommendationSettings, 'model' | 'ranking' | 'candidates' | 'itemModel'>;
  /** The validation split, before and after, knowing the past and as a replay (the objective is their mean). */
  validation: { before: Measured; after: Measured };
  /** The fitted settings on the held-out interactions, which the fit never saw. */
  test: Measured;
  /** Each accepted move. */
  moves: { coordinate: string; from: Value; to: Value; ndcg: number }[];
}

/** One setting measured both ways: knowing only the past, and as a replay (EvalOptions.knowing). */
export interface Measured {
  past: EvalResult;
  replay: EvalResult;
}

/**
 * Fits the settings by coordinate search on a validation split: every user's held-out (last
 * positive) interaction is removed, and each user's last VALIDATION_POINTS positives of what
 * remains are predicted in turn, each from what came before it. So the held-out interactions are
 * never seen by the fit; the fitted settings are measured on them at the end. Objective: the
 * served feed's NDCG@10, the mean of the split measured knowing only the past (a user active as
 * the log runs) and as a replay (a user whose history is behind everyone else's, and what a log
 * replayed through the API measures), among settings whose full model is not below popularity on
 * any slice either way (sampled protocol). `from`: where the search starts (default START).
 */
export async function fitSettings(
  data: EvalData,
  model: ModelSettings,
  options: EvalOptions & {
    log?: (line: string) => void;
    from?: Fittable;
    /** As a replay, the data's span shortened this many times, as a replay through the API has it (squeezeFactor). */
    replaySqueeze?: number;
    /** The coordinates searched, by name (default: every one, COORDINATE_NAMES). */
    only?: string[];
  } = {},
): Promise<FitResult> {
  const log = options.log ?? (() => undefined);
  const unknown = (options.only ?? []).filter((name) => !COORDINATE_NAMES.includes(name));
  if (unknown.length > 0) throw new Error(`No such coordinate: ${unknown.join(', ')} (there are ${COORDINATE_NAMES.join(', ')})`);
  const coordinates = options.only ? COORDINATES.filter((c) => options.only!.includes(c.name)) : COORDINATES;
  const validationData = validationSplit(data);
  // Squeezed towards its end, the data stays within its span: the model's epoch holds for it.
  const asReplayed = (d: EvalData) => (options.replaySqueeze ? squeezed(d, options.replaySqueeze) : d);
  const measure = async (s: Fittable, feeds: FeedSettings[] = [s.feed]): Promise<Measured[]> => {
    const run = (knowing: 'past' | 'replay') =>
      evaluateMany(knowing === 'replay' ? asReplayed(validationData) : validationData, { ...model, ...s.model }, feeds, {
        ...options,
        points: VALIDATION_POINTS,
        shapes: false,
        knowing,
        itemModel: s.itemModel,
      });
    const [past, replay] = [await run('past'), await run('replay')];
    return past.map((r, i) => ({ past: r, replay: replay[i]! }));
  };
  // The full model must never rank below popularity alone, on any slice: a setting that does is
  // worse than any that does not, whatever its feed NDCG.
  const admissible = (m: Measured) =>
    [m.past, m.past.cold, m.replay, m.replay.cold].every(
      ({ models: [popularity, full] }) => full!.hitRate >= popularity!.hitRate && full!.ndcg >= popularity!.ndcg,
    );
  const objective = (m: Measured) => (m.past.feed.ndcg + m.replay.feed.ndcg) / 2 - (admissible(m) ? 0 : 1);
  const figures = (m: Measured) =>
    `past ${m.past.feed.hitRate.toFixed(4)} / ${m.past.feed.ndcg.toFixed(4)}, replay ${m.replay.feed.hitRate.toFixed(4)} / ${m.replay.feed.ndcg.toFixed(4)}`;

  let current: Fittable = options.from ?? START;
  const [before] = await measure(current);
  let best = objective(before!);
  log(`validation, before (HR@10 / NDCG@10): ${figures(before!)}${admissible(before!) ? '' : ' (below popularity on a slice)'}`);
  const moves: FitResult['moves'] = [];
  // A coordinate measured since the last move would measure the same again.
  const measuredSinceMove = new Set<string>();

  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const coordinate of coordinates) {
      if (measuredSinceMove.has(coordinate.name)) continue;
      measuredSinceMove.add(coordinate.name);
      const tried = coordinate.values.map((value) => coordinate.set(current, value));
      const results = coordinate.model
        ? await Promise.all(tried.map(async (s) => (await measure(s))[0]!))
        : await measure(
            current,
            tried.map((s) => s.feed),
          );
      const scores = results.map(objective);
      const top = scores.indexOf(Math.max(...scores));
      const from = coordinate.get(current);
      const to = coordinate.values[top]!;
      log(`round ${round} ${coordinate.name}: ${coordinate.values.map((v, i) => `${show(v)}→${scores[i]!.toFixed(4)}`).join('  ')}`);
      if (show(to) !== show(from) && scores[top]! >= best + MIN_GAIN) {
        current = tried[top]!;
        best = scores[top]!;
        moves.push({ coordinate: coordinate.name, from, to, ndcg: best });
        measuredSinceMove.clear();
        measuredSinceMove.add(coordinate.name);
        log(`  ${coordinate.name}: ${show(from)} → ${show(to)} (NDCG@10 ${best.toFixed(4)})`);
      }
    }
  }

  const [after] = await measure(current);
  log(`validation, after: ${figures(after!)}`);
  const testOf = (knowing: 'past' | 'replay') =>
    evaluate(knowing === 'replay' ? asReplayed(data) : data, { ...model, ...current.model }, current.feed, {
      ...options,
      knowing,
      itemModel: current.itemModel,
    });
  const test = { past: await testOf('past'), replay: await testOf('replay') };
  return {
    settings: { model: current.model, ranking: current.feed.ranking, candidates: current.feed.candidates, itemModel: current.itemModel },
    validation: { before: before!, after: after! },
    test,
    moves,
  };
}

/**
 * What the fit may learn from: each user's interactions before the one the evaluation holds out
 * (and none from it on, so that no later touch of the held-out event gives it away), and everyone
 * else's.
 */
export function validationSplit(data: EvalData): EvalData {
  const heldOut = heldOutInteractions([...data.interactions].sort((a, b) => a.at.getTime() - b.at.getTime()));
  const cutOff = new Map([...heldOut].map((i) => [i.userId, i.at.getTime()]));
  return { ...data, interactions: data.interactions.filter((i) => i.at.getTime() < (cutOff.get(i.userId) ?? Infinity)) };
}

/**
 * Writes the fitted settings, with what the fit measured and the command that made them (`source`:
 * its data flags), to `out` or to the settings the service ships.
 */
export function writeFittedSettings(fit: FitResult, source: string, out?: string): string {
  const file = out ? path.resolve(out) : path.join(__dirname, '..', 'src', 'domain', 'recommendation-settings.json');
  const brief = (r: EvalResult) => ({
    users: r.users,
    feed: round(r.feed),
    baselines: r.baselines.map(round),
    sampled: r.models.map(round),
    coverage: round4(r.coverage),
    cold: { users: r.cold.users, feed: round(r.cold.feed), sampled: r.cold.models.map(round) },
  });
  const both = (m: Measured) => ({ past: brief(m.past), replay: brief(m.replay) });
  const settings: RecommendationSettings = {
    version: RECOMMENDATION_SETTINGS.version,
    ...fit.settings,
    fitted: {
      command: `npm run eval -- --fit ${source}`,
      at: new Date().toISOString().slice(0, 10),
      objective: `the served feed's NDCG@10 on a validation split (each user's last ${VALIDATION_POINTS} positives before the held-out one), the mean of knowing only the past and of a replay`,
      validation: { before: both(fit.validation.before), after: both(fit.validation.after) },
      test: both(fit.test),
      moves: fit.moves.map((m) => ({ ...m, ndcg: round4(m.ndcg) })),
    },
  };
  writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`);
  return path.relative(process.cwd(), file);
}

const round4 = (value: number) => Math.round(value * 10_000) / 10_000;
function round<T extends object>(metrics: T): T {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, typeof v === 'number' ? round4(v) : v])) as T;
}
