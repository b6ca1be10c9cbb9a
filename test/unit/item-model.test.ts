import { fitItemModel, invertSymmetricPositiveDefinite, itemModelScores } from '../../src/domain/item-model';
import { rankCandidates } from '../../src/feed/ranking';

const settings = { items: 100, minUsers: 1, lambda: 1, neighbours: 10 };

/** Histories of ids as the fit takes them: places in `candidates`. */
const fit = (histories: string[][], candidates: string[], with_: Partial<typeof settings> = {}, recommendable?: (id: string) => boolean) =>
  fitItemModel(
    histories.map((h) => h.map((id) => candidates.indexOf(id))),
    candidates,
    { ...settings, ...with_ },
    { recommendable: recommendable && ((place) => recommendable(candidates[place]!)) },
  );

describe('the item model (EASE)', () => {
  test('inverts a symmetric positive definite matrix, with or without pauses', async () => {
    const n = 23;
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const x = Array.from({ length: 40 }, () => Array.from({ length: n }, () => (random() < 0.3 ? 1 : 0)));
    const a = new Float64Array(n * n);
    for (const row of x) for (let i = 0; i < n; i += 1) for (let j = 0; j < n; j += 1) a[i * n + j]! += row[i]! * row[j]!;
    for (let i = 0; i < n; i += 1) a[i * n + i]! += 0.5;
    let pauses = 0;
    const inverse = await invertSymmetricPositiveDefinite(a.slice(), n, async () => void (pauses += 1));
    expect(pauses).toBeGreaterThan(0);
    for (let i = 0; i < n; i += 1) {
      for (let j = 0; j < n; j += 1) {
        let sum = 0;
        for (let k = 0; k < n; k += 1) sum += a[i * n + k]! * inverse[k * n + j]!;
        expect(sum).toBeCloseTo(i === j ? 1 : 0, 9);
      }
    }
    await expect(invertSymmetricPositiveDefinite(new Float64Array([1, 2, 2, 1]), 2)).rejects.toThrow('not positive definite');
  });

  test('links events the same users are positive about, never an event to itself', async () => {
    const histories = [...Array.from({ length: 5 }, () => ['a', 'b']), ...Array.from({ length: 5 }, () => ['c', 'd']), ['a', 'c']];
    const { neighbours, items } = await fit(histories, ['a', 'b', 'c', 'd']);
    expect(items).toBe(4);
    const of = (id: string) => neighbours.get(id)!.map((n) => n.eventId);
    expect(of('a')[0]).toBe('b');
    expect(of('c')[0]).toBe('d');
    for (const id of ['a', 'b', 'c', 'd']) expect(of(id)).not.toContain(id);
    // Weights are learnt, not counted: b explains a, so d (reached only through c) gains nothing from a.
    expect(neighbours.get('a')!.find((n) => n.eventId === 'd')).toBeUndefined();
  });

  test('fits at most `items` events, the first candidates with at least `minUsers` users, and keeps `neighbours` of each', async () => {
    const histories = [
      ['a', 'b', 'c', 'd', 'e'],
      ['a', 'b', 'c', 'd', 'e'],
      ['a', 'b', 'c', 'd'],
      ['x', 'a'],
    ];
    const fitted = await fit(histories, ['a', 'b', 'c', 'd', 'e', 'x'], { items: 4, minUsers: 2, neighbours: 2 });
    expect(fitted.items).toBe(4);
    expect([...fitted.neighbours.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    for (const row of fitted.neighbours.values()) {
      expect(row.length).toBeLessThanOrEqual(2);
      expect(row.map((n) => n.eventId)).not.toContain('e');
      expect(row.map((n) => n.weight)).toEqual([...row.map((n) => n.weight)].sort((p, q) => q - p));
    }
    const rare = await fit(histories, ['a', 'b', 'c', 'd', 'e', 'x'], { minUsers: 3 });
    expect(rare.items).toBe(4); // e (2 users) and x (1) are left out
  });

  test('keeps as neighbours only events still to come; an event that started keeps its own links', async () => {
    const histories = [...Array.from({ length: 4 }, () => ['past', 'b', 'c']), ['b', 'c']];
    const all = await fit(histories, ['past', 'b', 'c']);
    expect(all.neighbours.get('b')!.map((n) => n.eventId)).toContain('past');
    const upcoming = await fit(histories, ['past', 'b', 'c'], {}, (id) => id !== 'past');
    expect(upcoming.items).toBe(3);
    for (const row of upcoming.neighbours.values()) expect(row.map((n) => n.eventId)).not.toContain('past');
    expect(
      upcoming.neighbours
        .get('past')!
        .map((n) => n.eventId)
        .sort(),
    ).toEqual(['b', 'c']);
  });

  test('scores a user by their latest events, the latest counting most', () => {
    const neighbours = new Map([
      ['a', [{ eventId: 'z', weight: 1 }]],
      [
        'b',
        [
          { eventId: 'y', weight: 1 },
          { eventId: 'z', weight: 0.5 },
        ],
      ],
    ]);
    const scores = itemModelScores(neighbours, ['a', 'b'], 1);
    expect(scores.get('z')).toBeCloseTo(1 + 0.5 * 0.5);
    expect(scores.get('y')).toBeCloseTo(0.5);
  });

  test('the ranking adds the item model at its weight, as "people who liked what you liked"', () => {
    const features = { category: null, tags: [], city: null, organizerId: '', kind: 'event' };
    const candidates = [
      { eventId: 'p', features, collaborative: 1, popularity: 0 },
      { eventId: 'q', features, collaborative: 0.5, popularity: 0, itemModel: 2 },
    ];
    const ranking = { weights: { collaborative: 1, popularity: 0, features: 0, itemModel: 0.6 }, popularityExponent: 1 };
    const ranked = rankCandidates(ranking, { affinities: new Map() }, candidates);
    expect(ranked.map((r) => [r.eventId, r.score])).toEqual([
      ['q', 1.1],
      ['p', 1],
    ]);
    expect(ranked[0]!.reasons.map((r) => r.code)).toEqual(['liked_by_similar_users']);
    const without = rankCandidates({ ...ranking, weights: { ...ranking.weights, itemModel: 0 } }, { affinities: new Map() }, candidates);
    expect(without.map((r) => r.eventId)).toEqual(['p', 'q']);
  });
});
