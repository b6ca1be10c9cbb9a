import { heldOutCases, heldOutInteractions, Tally } from '../../eval/evaluate';
import { squeezed, squeezeFactor } from '../../eval/data';
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

  test("each held-out interaction comes with the user's last first-time positive before it, for similar events", () => {
    const log = [
      at('u1', 'a'),
      at('u1', 'b'),
      at('u1', 'c', 'DISMISS'),
      at('u1', 'a', 'SAVE'),
      at('u1', 'd'),
      at('u2', 'x'),
      at('u2', 'y'),
    ];
    const cases = heldOutCases(log, heldOutInteractions(log));
    // u1: 'b' was the last new positive before 'd' (the dismissal and the repeat of 'a' are not).
    expect(cases).toEqual([
      { interaction: log[4], lastPositive: 'b' },
      { interaction: log[6], lastPositive: 'x' },
    ]);
  });
});

describe('a log squeezed as a replay through the API has it', () => {
  const day = 86_400_000;
  const log = (days: number[]) => ({
    interactions: days.map((d, i) => ({ userId: 'u', eventId: `e${i}`, action: 'VIEW' as const, at: new Date(d * day) })),
    events: new Map(),
    skipped: [],
    duplicates: 0,
  });

  test('the span is fitted into the allowed age less a margin; a log that fits is left alone', () => {
    expect(squeezeFactor(new Date(0), new Date(3600 * day), 365)).toBeCloseTo(10, 12); // into 360 days
    expect(squeezeFactor(new Date(0), new Date(63 * day), 7)).toBeCloseTo(10, 12); // into 6.3 days
    expect(squeezeFactor(new Date(0), new Date(30 * day), 365)).toBe(1);
  });

  test('times are shortened towards the last one, keeping their order', () => {
    const squeezedLog = squeezed(log([0, 50, 100]), 10);
    expect(squeezedLog.interactions.map((i) => i.at.getTime() / day)).toEqual([90, 95, 100]);
  });
});
