import { DEFAULT_ITEM_MODEL_HALF_LIFE, itemModelScores, type ItemNeighbours } from '../src/domain/item-model';
import type { SequentialRules } from './sequential-rules';

/**
 * The strongest reference of the data's README: EASE over a recency-weighted history (the k-th
 * latest positive weighted 2^(−k/5)) plus sequential rules, each relative to its greatest score
 * for the user, summed; ties by popularity. Its EASE half is the eval's fit of the item model with
 * every positive weight kept (the served feed reads each event's strongest `neighbours`), so it
 * knows what the feed's item model knows, when it knows it.
 */
export function referenceBlendScorer(
  rules: SequentialRules,
  weights: ItemNeighbours,
  latestPositives: readonly string[],
  userId: string,
  popularity: (eventId: string) => number,
): (eventId: string) => number {
  const sequential = rules.scores(userId);
  const ease = itemModelScores(weights, latestPositives, DEFAULT_ITEM_MODEL_HALF_LIFE);
  const most = (scores: Map<string, number>) => {
    let max = 0;
    for (const value of scores.values()) if (value > max) max = value;
    return max || 1;
  };
  const [ruleMax, easeMax] = [most(sequential), most(ease)];
  return (eventId) => (sequential.get(eventId) ?? 0) / ruleMax + (ease.get(eventId) ?? 0) / easeMax + popularity(eventId) * 1e-9;
}
