import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RECOMMENDATION_SETTINGS, type CandidateLimits, type RankingSettings } from '../domain/fitted-settings';

/** One arm of the feed's experiment: its share of users and the ranking settings they get. */
export interface Variant {
  name: string;
  share: number;
  ranking: RankingSettings;
  candidates: CandidateLimits;
}

/** The one variant while no experiment runs. */
export const CONTROL = 'control';

const partial = <T extends z.ZodRawShape>(shape: T) => z.object(shape).partial().strict();
const number = z.number().finite().min(0);
const overrides = z.strictObject(
  {
    ranking: partial({
      weights: partial({ collaborative: number, popularity: number, features: number, itemModel: number }),
      recencyDecay: number,
      similarityExponent: number,
      recentPositives: z.number().int().min(1).max(200),
      popularityExponent: z.number().min(0.05).max(1),
      priorShrinkage: z.number().min(0).max(100),
      itemModelHalfLife: z.number().positive().max(1000),
    }).optional(),
    candidates: partial({
      neighboursPerEvent: z.number().int().min(0).max(5000),
      collaborative: z.number().int().min(0).max(5000),
      byFeature: z.number().int().min(0).max(5000),
      popular: z.number().int().min(0).max(5000),
      soonest: z.number().int().min(0).max(5000),
      topFeatures: z.number().int().min(0).max(5000),
      profileEvents: z.number().int().min(1).max(1000),
      itemModel: z.number().int().min(0).max(5000),
    }).optional(),
  },
  {
    // The model's settings shape what the workers store: a variant cannot have its own.
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `${issue.keys.join(', ')} cannot differ by variant (the workers store what the model settings give: change src/domain/recommendation-settings.json); a variant may set ranking and candidates`
        : undefined,
  },
);

export const experimentSchema = z
  .array(
    z
      .object({
        name: z.string().regex(/^[\w.-]{1,50}$/, 'must be 1 to 50 letters, digits, _ . or -'),
        share: z.number().gt(0).max(1),
        settings: overrides.optional(),
      })
      .strict(),
  )
  .min(1)
  .max(10)
  .refine((arms) => Math.abs(arms.reduce((sum, arm) => sum + arm.share, 0) - 1) < 1e-9, 'the shares must add up to 1')
  .refine((arms) => new Set(arms.map((arm) => arm.name)).size === arms.length, 'the variant names must differ')
  .transform((arms): Variant[] =>
    arms.map(({ name, share, settings = {} }) => ({
      name,
      share,
      ranking: {
        ...RECOMMENDATION_SETTINGS.ranking,
        ...settings.ranking,
        weights: { ...RECOMMENDATION_SETTINGS.ranking.weights, ...settings.ranking?.weights },
      },
      candidates: { ...RECOMMENDATION_SETTINGS.candidates, ...settings.candidates },
    })),
  );

/** No experiment: everyone gets the fitted settings. */
export const NO_EXPERIMENT: Variant[] = [
  { name: CONTROL, share: 1, ranking: RECOMMENDATION_SETTINGS.ranking, candidates: RECOMMENDATION_SETTINGS.candidates },
];

/**
 * The user's variant: a stable hash of the experiment (its arms' names) and the user's id, so a user
 * stays in one arm while the experiment runs, and a new experiment deals its users afresh.
 */
export function assignVariant(variants: readonly Variant[], userId: string): Variant {
  if (variants.length === 1) return variants[0]!;
  const experiment = variants.map((v) => v.name).join(',');
  const point = createHash('sha256').update(`${experiment}\n${userId}`).digest().readUInt32BE(0) / 2 ** 32;
  let upTo = 0;
  for (const variant of variants) {
    upTo += variant.share;
    if (point < upTo) return variant;
  }
  return variants[variants.length - 1]!;
}

export interface VariantComparison {
  variant: string;
  impressions: number;
  /** CLICK, SAVE and APPLY attributed to its impressions. */
  positive: number;
  /** positive / impressions. */
  rate: number;
  /** Its rate minus the first variant's, with a 95 % confidence interval (normal approximation); null for the first. */
  difference: { estimate: number; low: number; high: number } | null;
}

/** Each variant's positive rate, and its difference from the first's with a 95 % confidence interval. */
export function compareVariants(totals: readonly { variant: string; impressions: number; positive: number }[]): VariantComparison[] {
  const rated = totals.map((t) => ({ ...t, rate: t.impressions > 0 ? t.positive / t.impressions : 0 }));
  const base = rated[0];
  // The variance of a rate, with the rate capped at 1 (an impression may lead to several positives).
  const variance = (t: { rate: number; impressions: number }) => {
    const p = Math.min(t.rate, 1);
    return t.impressions > 0 ? (p * (1 - p)) / t.impressions : Infinity;
  };
  return rated.map((t, i) => {
    if (i === 0 || !base) return { ...t, difference: null };
    const estimate = t.rate - base.rate;
    const margin = 1.96 * Math.sqrt(variance(t) + variance(base));
    return { ...t, difference: { estimate, low: estimate - margin, high: estimate + margin } };
  });
}
