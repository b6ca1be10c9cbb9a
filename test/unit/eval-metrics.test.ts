import { heldOutInteractions, Tally } from '../../eval/evaluate';
import type { Action } from '../../src/domain/weights';

describe('evaluation metrics', () => {
  test('HR@k counts ranks inside the top k; NDCG@k discounts them by log2(rank + 2)', () => {
    const tally = new Tally(10);
    tally.add(0); // gain 1
    tally.add(1); // gain 1 / log2(3)
    tally.add(10); // outside the top 10
    tally.add(undefined); // not ranked at all
    const { hitRate, ndcg } = tally.result();
    expect(hitRate).toBe(0.5);
    expect(ndcg).toBeCloseTo((1 + 1 / Math.log2(3)) / 4, 12);
  });

  test('an empty tally is zero, not NaN', () => {
    expect(new Tally(10).result()).toEqual({ hitRate: 0, ndcg: 0 });
  });
});

describe('which interactions are held out', () => {
  const at = (userId: string, eventId: string, action: Action = 'VIEW') => ({ userId, eventId, action, at: new Date(0) });

  test("each user's last first-time positive interaction, never a dismissal or a repeat", () => {
    const log = [at('u1', 'a'), at('u1', 'b'), at('u1', 'c', 'DISMISS'), at('u1', 'a', 'SAVE'), at('u2', 'x'), at('u2', 'y')];
    const held = heldOutInteractions(log);
    expect([...held]).toEqual([log[1], log[5]]);
  });

  test('a user with nothing before the held-out interaction is not evaluated', () => {
    expect(heldOutInteractions([at('u1', 'a')]).size).toBe(0);
  });
});
