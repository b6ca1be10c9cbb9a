import { referenceBlendScorer } from '../../eval/reference-blend';
import { SequentialRules } from '../../eval/sequential-rules';
import type { Action } from '../../src/domain/weights';

const at = new Date('2026-01-01T00:00:00Z');
const positive = (userId: string, eventId: string, action: Action = 'SAVE') => ({ userId, eventId, action, at });

describe('EASE + sequential rules, the reference blend of the evaluation', () => {
  test('sums sequential rules and the item model, each relative to its best for the user; ties by popularity', () => {
    const rules = new SequentialRules();
    for (const i of [positive('u1', 'a'), positive('u1', 'b'), positive('u2', 'a'), positive('u2', 'c'), positive('u3', 'd')])
      rules.learn(i);
    rules.learn(positive('me', 'a'));
    const weights = new Map([
      [
        'a',
        [
          { eventId: 'd', weight: 4 },
          { eventId: 'b', weight: 2 },
        ],
      ],
    ]);
    const score = referenceBlendScorer(rules, weights, ['a'], 'me', (id) => rules.popularity(id));
    // Rules from a: b 1, c 1 (the best: 1). The item model from a: d 4 (the best), b 2.
    expect(score('b')).toBeCloseTo(1 + 0.5, 6);
    expect(score('c')).toBeCloseTo(1, 6);
    expect(score('d')).toBeCloseTo(1, 6);
    // Where neither half reaches, popularity alone orders: a (three positive users) above e (none).
    expect(score('a')).toBeGreaterThan(0);
    expect(score('e')).toBe(0);
  });
});
