import { featureType, featuresOf, type EventFeatures, type FeatureType } from '../domain/model';
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
  /** Decayed popularity (epoch-scaled). */
  popularity: number;
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
 * Scores and orders the candidates for one user, each once: the collaborative signal, popularity
 * and feature affinities, each relative to its greatest value among the candidates (so stored
 * values need no decaying to "now": they share one epoch scale), blended with the fitted weights.
 * Pure: the feed and the offline evaluation both rank with it.
 */
export function rankCandidates(
  ranking: Pick<RankingSettings, 'weights' | 'popularityExponent'>,
  profile: UserProfile,
  candidates: Candidate[],
): RankedItem[] {
  const { weights } = ranking;
  const maxByType = new Map<FeatureType, number>();
  for (const [feature, value] of profile.affinities) {
    const type = featureType(feature);
    if (value > (maxByType.get(type) ?? 0)) maxByType.set(type, value);
  }
  let maxCollaborative = 0;
  let maxPopularity = 0;
  for (const c of candidates) {
    if (c.collaborative > maxCollaborative) maxCollaborative = c.collaborative;
    if (c.popularity > maxPopularity) maxPopularity = c.popularity;
  }
  const topCity = strongest(profile.affinities, 'city');

  const seen = new Set<string>();
  const ranked = [];
  for (const candidate of candidates) {
    if (seen.has(candidate.eventId)) continue;
    seen.add(candidate.eventId);
    const parts: { value: number; reason?: Reason }[] = [];

    if (weights.features > 0 && maxByType.size > 0) {
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
        const value = weights.features * FEATURE_TYPE_WEIGHTS[type] * (sum / n);
        const describable = best && type !== 'kind' && type !== 'organizer';
        parts.push({ value, reason: describable ? interestReason(type, best.feature, candidate.features) : undefined });
      }
    }
    if (maxCollaborative > 0 && candidate.collaborative > 0) {
      parts.push({
        value: weights.collaborative * (candidate.collaborative / maxCollaborative),
        reason: reasonOf('liked_by_similar_users'),
      });
    }
    if (maxPopularity > 0 && candidate.popularity > 0) {
      const near = topCity !== undefined && candidate.features.city?.trim().toLowerCase() === topCity;
      const popularity = (candidate.popularity / maxPopularity) ** ranking.popularityExponent;
      parts.push({ value: weights.popularity * popularity, reason: reasonOf(near ? 'popular_near_you' : 'popular') });
    }

    const score = parts.reduce((sum, p) => sum + p.value, 0);
    const significant = parts
      .filter((p): p is { value: number; reason: Reason } => p.reason !== undefined && p.value > 0.01 * Math.max(score, 1e-9))
      .sort((a, b) => b.value - a.value)
      .map((p) => p.reason);
    // One reason of each text: a category and a tag of the same name would say the same thing twice.
    const reasons = [...new Map(significant.map((r) => [r.text, r])).values()].slice(0, 3);
    ranked.push({ eventId: candidate.eventId, score: round(score), reasons, startsAt: candidate.startsAt?.getTime() ?? Infinity });
  }

  ranked.sort((a, b) => b.score - a.score || a.startsAt - b.startsAt || (a.eventId < b.eventId ? -1 : 1));
  return ranked.map(({ eventId, score, reasons }) => ({ eventId, score, reasons }));
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
