import { featureKey, featureType, type EventFeatures, type FeatureType } from '../domain/model';
import type { RankingSettings } from '../domain/fitted-settings';

/** How much each kind of feature says about taste; an event's tags share one weight between them. */
export const FEATURE_TYPE_WEIGHTS: Record<FeatureType, number> = { category: 0.35, tag: 0.25, city: 0.2, organizer: 0.15, kind: 0.05 };

/**
 * One candidate event with its signals for one user, as the feed's query reads them. The feed is
 * for discovery: it shows events the user has not interacted with. One they saved, clicked, applied
 * to or dismissed never comes back, and neither does one they only viewed: they opened its page and
 * chose not to keep it (SAVE is the platform's way to keep an event; docs/recommendation-model.md).
 */
export interface Candidate {
  eventId: string;
  features: EventFeatures;
  /**
   * Co-occurrence with the user's latest positive events: over the k-th latest r (k from 0),
   * Σ (k + 1)^-recencyDecay · value(r, c) / (engaged(r)^e · engaged(c)^(1 − e)).
   */
  collaborative: number;
  /**
   * The same sum without the normalisation, Σ (k + 1)^-recencyDecay · value(r, c): how many
   * users' steps, weighted, lead from the user's latest events to this one (see priorShrinkage).
   */
  support?: number;
  /** Decayed popularity (epoch-scaled). */
  popularity: number;
  /**
   * The item model's score (src/domain/item-model.ts): Σ over the user's k-th latest positive
   * event r of 2^(−k / itemModelHalfLife) · B[r][c]; 0 or absent when it has none.
   */
  itemModel?: number;
  /** Breaks ties: among equal scores, the sooner event first (a new user's feed before any signal). */
  startsAt?: Date;
}

export interface UserProfile {
  /** The user's affinity for each feature of their profile's events (see `loadFeedCandidates`); others count 0. */
  affinities: Map<string, number>;
}

export type Reason =
  | { code: 'matches_interest'; text: string; feature: { type: FeatureType; value: string } }
  | { code: 'liked_by_similar_users'; text: string }
  | { code: 'popular_near_you' | 'popular'; text: string };

export const REASON_CODES = ['matches_interest', 'liked_by_similar_users', 'popular_near_you', 'popular'] as const;

type PlainReasonCode = Exclude<Reason['code'], 'matches_interest'>;

const REASON_TEXTS: Record<PlainReasonCode, string> = {
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
 * Scores and orders the candidates for one user, each once: the collaborative signal, the item
 * model's score, popularity and feature affinities, each relative to its greatest value among the candidates (so stored
 * values need no decaying to "now": they share one epoch scale), blended with the fitted weights,
 * popularity and features shrunk as the collaborative signal's support grows (priorShrinkage).
 * Pure: the feed and the offline evaluation both rank with it.
 */
export function rankCandidates(
  ranking: Pick<RankingSettings, 'weights' | 'popularityExponent' | 'priorShrinkage'>,
  profile: UserProfile,
  candidates: Candidate[],
): RankedItem[] {
  let maxSupport = 0;
  let maxCollaborative = 0;
  let maxPopularity = 0;
  let maxItemModel = 0;
  for (const c of candidates) {
    if ((c.itemModel ?? 0) > maxItemModel) maxItemModel = c.itemModel!;
    if ((c.support ?? 0) > maxSupport) maxSupport = c.support!;
    if (c.collaborative > maxCollaborative) maxCollaborative = c.collaborative;
    if (c.popularity > maxPopularity) maxPopularity = c.popularity;
  }
  const priors = 1 / (1 + (ranking.priorShrinkage ?? 0) * maxSupport);
  const weights = { ...ranking.weights, popularity: ranking.weights.popularity * priors, features: ranking.weights.features * priors };
  const affinity = normalisedAffinities(profile.affinities);
  const topCity = strongest(profile.affinities, 'city'); // its key
  const useFeatures = weights.features > 0 && affinity.any;

  const seen = new Set<string>();
  const ranked = [];
  const parts: Part[] = [];
  // Per kind of feature, the mean of the user's normalised affinity for the event's features of it.
  const featurePart = (type: FeatureType, names: readonly string[]) => {
    let sum = 0;
    let n = 0;
    let best: string | undefined;
    let bestValue = 0;
    const counted: string[] = [];
    for (const name of names) {
      const key = affinity.key(type, name);
      if (counted.includes(key)) continue; // two spellings of one tag count once
      counted.push(key);
      const value = affinity.value(type, key);
      sum += value;
      n += 1;
      if (value > bestValue) [best, bestValue] = [key, value];
    }
    const describable = best !== undefined && type !== 'kind' && type !== 'organizer';
    parts.push({ value: weights.features * FEATURE_TYPE_WEIGHTS[type] * (sum / n), type, feature: describable ? best : undefined });
  };
  for (const candidate of candidates) {
    if (seen.has(candidate.eventId)) continue;
    seen.add(candidate.eventId);
    parts.length = 0;
    const { features } = candidate;

    if (useFeatures) {
      if (features.category) featurePart('category', [features.category]);
      if (features.tags.length > 0) featurePart('tag', features.tags);
      if (features.city) featurePart('city', [features.city]);
      if (features.organizerId) featurePart('organizer', [features.organizerId]);
      if (features.kind) featurePart('kind', [features.kind]);
    }
    if (maxCollaborative > 0 && candidate.collaborative > 0) {
      parts.push({ value: weights.collaborative * (candidate.collaborative / maxCollaborative), reason: LIKED });
    }
    if (maxItemModel > 0 && (candidate.itemModel ?? 0) > 0 && weights.itemModel) {
      parts.push({ value: weights.itemModel * (candidate.itemModel! / maxItemModel), reason: LIKED });
    }
    if (maxPopularity > 0 && candidate.popularity > 0) {
      const near = topCity !== undefined && features.city !== null && affinity.key('city', features.city) === topCity;
      const popularity = (candidate.popularity / maxPopularity) ** ranking.popularityExponent;
      parts.push({ value: weights.popularity * popularity, reason: near ? POPULAR_NEAR_YOU : POPULAR });
    }

    let score = 0;
    for (const part of parts) score += part.value;
    ranked.push({
      eventId: candidate.eventId,
      score: round(score),
      reasons: reasonsOf(parts, score, features),
      startsAt: candidate.startsAt?.getTime() ?? Infinity,
    });
  }

  ranked.sort((a, b) => b.score - a.score || a.startsAt - b.startsAt || (a.eventId < b.eventId ? -1 : 1));
  return ranked.map(({ eventId, score, reasons }) => ({ eventId, score, reasons }));
}

/** One part of a candidate's score, with what it would say as a reason (a plain one, or an interest in `feature`). */
interface Part {
  value: number;
  reason?: Reason;
  type?: FeatureType;
  feature?: string;
}

// Shared by every item that gives them: frozen, so that none can change another's.
const LIKED = Object.freeze(reasonOf('liked_by_similar_users'));
const POPULAR = Object.freeze(reasonOf('popular'));
const POPULAR_NEAR_YOU = Object.freeze(reasonOf('popular_near_you'));

/**
 * Up to three reasons, strongest part first, from parts above 1 % of the score; one of each text
 * (a category and a tag of the same name would say the same thing twice: the later one's reason,
 * in the earlier one's place).
 */
function reasonsOf(parts: Part[], score: number, event: EventFeatures): Reason[] {
  const floor = 0.01 * Math.max(score, 1e-9);
  const significant = parts.filter((p) => (p.reason !== undefined || p.feature !== undefined) && p.value > floor);
  if (significant.length === 0) return [];
  significant.sort((a, b) => b.value - a.value);
  const reasons: Reason[] = [];
  for (const part of significant) {
    const reason = part.reason ?? interestReason(part.type!, part.feature!, event);
    const same = reasons.findIndex((r) => r.text === reason.text);
    if (same === -1) reasons.push(reason);
    else reasons[same] = reason;
  }
  return reasons.length > 3 ? reasons.slice(0, 3) : reasons;
}

/**
 * The user's affinities as the ranking reads them: each feature's relative to the strongest of its
 * kind, in [−1, 1]; and each feature name's key (featureKey), worked out once per ranking however
 * many candidates share it.
 */
function normalisedAffinities(affinities: Map<string, number>) {
  const maxByType = new Map<FeatureType, number>();
  for (const [feature, value] of affinities) {
    const type = featureType(feature);
    if (value > (maxByType.get(type) ?? 0)) maxByType.set(type, value);
  }
  const keys = new Map<FeatureType, Map<string, string>>();
  const values = new Map<string, number>();
  return {
    any: maxByType.size > 0,
    key(type: FeatureType, name: string): string {
      let byName = keys.get(type);
      if (!byName) keys.set(type, (byName = new Map()));
      let key = byName.get(name);
      if (key === undefined) byName.set(name, (key = featureKey(type, name)));
      return key;
    },
    value(type: FeatureType, key: string): number {
      let value = values.get(key);
      if (value === undefined) {
        const max = maxByType.get(type) ?? 0;
        value = max > 0 ? clamp((affinities.get(key) ?? 0) / max, -1, 1) : 0;
        values.set(key, value);
      }
      return value;
    },
  };
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
  return best?.[0];
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));
const round = (value: number) => Math.round(value * 1e6) / 1e6;
