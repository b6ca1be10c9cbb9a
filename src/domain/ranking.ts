import { epochScale, featureType, featuresOf, type EventFeatures, type FeatureType, type ModelSettings } from './model';

/** How much each kind of feature says about taste; an event's tags share one weight between them. */
const FEATURE_TYPE_WEIGHTS: Record<FeatureType, number> = { category: 0.35, tag: 0.25, city: 0.2, organizer: 0.15, kind: 0.05 };

/** How the components add up. Hand-set priors, not fitted: direct interest first, then taste, peers, crowd. */
const COMPONENT_WEIGHTS = { direct: 2, features: 3, collaborative: 2, popularity: 1 };

/**
 * Bounds of each candidate source: the feed's cost does not grow with a user's history. Set by the
 * offline evaluation against the whole feed (`npm run eval -- --candidate-scale 2`): twice these
 * sizes took 60 % longer to load and put the held-out event in the top 10 about as often (0.2857
 * against 0.2843 on 3,000 users), in the top 100 4 % more often.
 */
export const FEED_LIMITS = {
  direct: 100,
  recentPositives: 20,
  neighboursPerEvent: 50,
  collaborative: 100,
  byFeature: 150,
  popular: 100,
  soonest: 50,
  topFeatures: 30,
} as const;

/** One candidate event with its stored (epoch-scaled) signals for one user. */
export interface Candidate {
  eventId: string;
  features: EventFeatures;
  /** The user's own decayed interest in the event. */
  direct: number;
  /** Co-occurrence with the user's latest positive events. */
  collaborative: number;
  popularity: number;
  /** Breaks ties: among equal scores, the sooner event first (a new user's feed before any signal). */
  startsAt?: Date;
}

export interface UserProfile {
  /** Stored affinities: the user's strongest features, and every feature of the candidates. */
  affinities: Map<string, number>;
}

export type Reason =
  | { code: 'interacted'; text: string }
  | { code: 'matches_interest'; text: string; feature: { type: FeatureType; value: string } }
  | { code: 'liked_by_similar_users'; text: string }
  | { code: 'popular_near_you' | 'popular'; text: string };

type PlainReasonCode = Exclude<Reason['code'], 'matches_interest'>;

const REASON_TEXTS: Record<PlainReasonCode, string> = {
  interacted: 'you showed interest in this event',
  liked_by_similar_users: 'people who liked what you liked also liked this',
  popular_near_you: 'popular near you',
  popular: 'popular right now',
};

/** A reason with its text; the texts are written here only, so a stored ranking keeps just the codes. */
export function reasonOf(code: PlainReasonCode): Reason;
export function reasonOf(code: 'matches_interest', feature: { type: FeatureType; value: string }): Reason;
export function reasonOf(code: Reason['code'], feature?: { type: FeatureType; value: string }): Reason {
  if (code !== 'matches_interest') return { code, text: REASON_TEXTS[code] } as Reason;
  const { type, value } = feature!;
  const text = type === 'city' ? `matches your interest in events in ${value}` : `matches your interest in ${value}`;
  return { code, text, feature: { type, value } };
}

export interface RankedItem {
  eventId: string;
  score: number;
  reasons: Reason[];
}

/**
 * Scores and orders the candidates for one user at `now`. Pure: the feed and the offline
 * evaluation both rank with it. Stored values share one epoch scale, so they are divided by the
 * scale of `now` only to turn them into today's decayed values.
 */
export function rankCandidates(settings: ModelSettings, now: Date, profile: UserProfile, candidates: Candidate[]): RankedItem[] {
  const scale = epochScale(settings, now);
  const maxByType = new Map<FeatureType, number>();
  for (const [feature, value] of profile.affinities) {
    const type = featureType(feature);
    if (value > (maxByType.get(type) ?? 0)) maxByType.set(type, value);
  }
  const maxCollaborative = Math.max(0, ...candidates.map((c) => c.collaborative));
  const maxPopularity = Math.max(0, ...candidates.map((c) => c.popularity));
  const topCity = strongest(profile.affinities, 'city');

  const ranked = candidates.map((candidate) => {
    const parts: { value: number; reason?: Reason }[] = [];

    const direct = Math.max(candidate.direct / scale, 0);
    if (direct > 0) {
      parts.push({
        value: COMPONENT_WEIGHTS.direct * Math.log1p(direct),
        reason: reasonOf('interacted'),
      });
    }

    const byType = new Map<FeatureType, { sum: number; n: number; best?: { feature: string; value: number } }>();
    for (const feature of featuresOf(candidate.features)) {
      const type = featureType(feature);
      const max = maxByType.get(type) ?? 0;
      const value = max > 0 ? clamp((profile.affinities.get(feature) ?? 0) / max, -1, 1) : 0;
      const entry = byType.get(type) ?? { sum: 0, n: 0 };
      entry.sum += value;
      entry.n += 1;
      if (value > 0 && (!entry.best || value > entry.best.value)) entry.best = { feature, value };
      byType.set(type, entry);
    }
    for (const [type, { sum, n, best }] of byType) {
      const value = COMPONENT_WEIGHTS.features * FEATURE_TYPE_WEIGHTS[type] * (sum / n);
      const describable = best && type !== 'kind' && type !== 'organizer';
      parts.push({ value, reason: describable ? interestReason(type, best.feature, candidate.features) : undefined });
    }

    if (maxCollaborative > 0 && candidate.collaborative > 0) {
      parts.push({
        value: COMPONENT_WEIGHTS.collaborative * (candidate.collaborative / maxCollaborative),
        // On an event the user already engaged with, the co-occurrence is partly their own doing.
        reason: direct > 0 ? undefined : reasonOf('liked_by_similar_users'),
      });
    }
    if (maxPopularity > 0 && candidate.popularity > 0) {
      const near = topCity !== undefined && candidate.features.city?.trim().toLowerCase() === topCity;
      parts.push({
        value: COMPONENT_WEIGHTS.popularity * (candidate.popularity / maxPopularity),
        reason: reasonOf(near ? 'popular_near_you' : 'popular'),
      });
    }

    const score = parts.reduce((sum, p) => sum + p.value, 0);
    const reasons = parts
      .filter((p): p is { value: number; reason: Reason } => p.reason !== undefined && p.value > 0.05)
      .sort((a, b) => b.value - a.value)
      .slice(0, 3)
      .map((p) => p.reason);
    return { eventId: candidate.eventId, score: round(score), reasons, startsAt: candidate.startsAt?.getTime() ?? Infinity };
  });

  return ranked
    .sort((a, b) => b.score - a.score || a.startsAt - b.startsAt || (a.eventId < b.eventId ? -1 : 1))
    .map(({ eventId, score, reasons }) => ({ eventId, score, reasons }));
}

function interestReason(type: FeatureType, feature: string, event: EventFeatures): Reason {
  const raw = feature.slice(feature.indexOf(':') + 1);
  return reasonOf('matches_interest', { type, value: type === 'city' ? (event.city ?? raw) : raw });
}

function strongest(affinities: Map<string, number>, type: FeatureType): string | undefined {
  let best: [string, number] | undefined;
  for (const [feature, value] of affinities) {
    if (featureType(feature) === type && value > 0 && (!best || value > best[1])) best = [feature, value];
  }
  return best?.[0].slice(type.length + 1);
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));
const round = (value: number) => Math.round(value * 1e6) / 1e6;
