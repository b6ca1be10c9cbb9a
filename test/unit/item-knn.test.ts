import { itemKnnScorer } from '../../eval/item-knn';
import type { Action } from '../../src/domain/weights';

const at = new Date('2026-01-01T00:00:00Z');
const positive = (userId: string, eventId: string, action: Action = 'SAVE') => ({ userId, eventId, action, at });

describe('item-kNN, the evaluation baseline', () => {
  test("scores an event by the sum of its cosine similarities to the user's positive events", () => {
    const scorer = itemKnnScorer([
      positive('u1', 'a'),
      positive('u1', 'b'),
      positive('u2', 'a'),
      positive('u2', 'c'),
      positive('u3', 'b'),
      positive('u3', 'c'),
      positive('u3', 'd'),
      positive('u3', 'e', 'DISMISS'),
    ]);
    const scores = scorer('u1');
    // cos(a,c) = 1/√(2·2), cos(b,c) = 1/√(2·2); cos(b,d) = 1/√(2·1); e was only dismissed.
    expect(scores.get('c')).toBeCloseTo(1, 10);
    expect(scores.get('d')).toBeCloseTo(Math.SQRT1_2, 10);
    expect(scores.has('e')).toBe(false);
    expect(scorer.trainingEvents('u3')).toEqual(new Set(['b', 'c', 'd', 'e']));
    expect(scorer('nobody').size).toBe(0);
  });
});
