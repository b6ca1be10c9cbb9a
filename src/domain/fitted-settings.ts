import { readFileSync } from 'node:fs';
import { z } from 'zod';
import fitted from './recommendation-settings.json';

/**
 * How a feed is ranked (read at request time; changing it needs no rebuild). Fitted on a real
 * log by `npm run eval -- --fit`, which writes recommendation-settings.json with the figures.
 */
export interface RankingSettings {
  /** How the normalised signals add up. */
  weights: { collaborative: number; popularity: number; features: number; itemModel?: number };
  /** The k-th latest positive event (k from 0) counts (k + 1)^-recencyDecay in the collaborative signal. */
  recencyDecay: number;
  /**
   * The co-occurrence of a recent event r with a candidate c counts value / (engaged(r)^e ·
   * engaged(c)^(1 − e)): 0.5 is cosine; above it, popular candidates are damped less.
   */
  similarityExponent: number;
  /** How many of the user's latest positive events the collaborative signal starts from. */
  recentPositives: number;
  /**
   * Popularity counts (popularity / greatest among the candidates)^p: below 1, an event a few
   * people engaged with stands out from one nobody has (popularity is heavy-tailed).
   */
  popularityExponent: number;
  /**
   * Popularity and features weigh 1 / (1 + s · support) of their weights, support being the
   * strongest candidate's (Candidate.support): they are what to go on while few users' steps lead
   * from the user's latest events anywhere, and count less as those steps add up. 0 or absent: full
   * weight always.
   */
  priorShrinkage?: number;
  /** The k-th latest positive event counts 2^(−k / itemModelHalfLife) in the item model's score (default 5). */
  itemModelHalfLife?: number;
}

/** How many events each candidate source of the feed yields: the feed's cost does not grow with a user's history. */
export interface CandidateLimits {
  neighboursPerEvent: number;
  collaborative: number;
  byFeature: number;
  popular: number;
  soonest: number;
  /** The user's strongest features whose events are candidates. */
  topFeatures: number;
  /**
   * How many of the user's latest positive events (and, apart, of the events they only dismissed)
   * their feature affinities are summed over: older ones drop out of the profile.
   */
  profileEvents: number;
  /** Events the item model scores highest for the user (0 or absent: none). */
  itemModel?: number;
}

const positive = z.number().positive();
const count = z.number().int().min(0).max(5000);
const schema = z.object({
  version: z.number().int().positive(),
  model: z.object({
    halfLifeDays: positive,
    cooccurrenceWindow: z.number().int().min(1).max(200),
    cooccurrenceDistanceDecay: z.number().min(0).max(4),
    cooccurrenceBackward: z.number().min(0).max(1),
  }),
  ranking: z.object({
    weights: z.object({
      collaborative: z.number().min(0),
      popularity: z.number().min(0),
      features: z.number().min(0),
      itemModel: z.number().min(0).optional(),
    }),
    recencyDecay: z.number().min(0).max(10),
    similarityExponent: z.number().min(0).max(1),
    recentPositives: z.number().int().min(1).max(200),
    popularityExponent: z.number().min(0.05).max(1),
    priorShrinkage: z.number().min(0).max(100).optional(),
    itemModelHalfLife: positive.max(1000).optional(),
  }),
  candidates: z.object({
    neighboursPerEvent: count,
    collaborative: count,
    byFeature: count,
    popular: count,
    soonest: count,
    topFeatures: count,
    profileEvents: z.number().int().min(1).max(1000),
    itemModel: count.optional(),
  }),
  itemModel: z.object({
    items: z.number().int().min(2).max(10_000),
    minUsers: z.number().int().min(1),
    lambda: positive,
    neighbours: z.number().int().min(1).max(1000),
  }),
  /** What the fit measured, and how to run it again; null until fitted. */
  fitted: z.unknown(),
});

export type RecommendationSettings = z.infer<typeof schema>;

/** Settings as the service takes them, or a ZodError saying why not. */
export const checkSettings = (value: unknown): RecommendationSettings => schema.parse(value);

/**
 * The versioned settings, checked once at start: recommendation-settings.json, or the file
 * RECOMMENDATION_SETTINGS_FILE names (one `npm run eval -- --fit --out FILE` wrote, say). The
 * workers rebuild the model when the file changes what they store.
 */
export const RECOMMENDATION_SETTINGS: RecommendationSettings = Object.freeze(loadSettings(process.env.RECOMMENDATION_SETTINGS_FILE));

function loadSettings(file: string | undefined): RecommendationSettings {
  if (!file) return checkSettings(fitted);
  try {
    return checkSettings(JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    const reason = error instanceof z.ZodError ? z.prettifyError(error) : (error as Error).message;
    throw new Error(`RECOMMENDATION_SETTINGS_FILE ${file} cannot be used: ${reason}`);
  }
}
