import { rankCandidates, type Candidate } from '../../src/feed/ranking';

const weights = { collaborative: 1, popularity: 0.5, features: 0.5 };
const settings = { weights, popularityExponent: 1 };
const candidate = (eventId: string, overrides: Partial<Candidate> = {}): Candidate => ({
  eventId,
  features: { category: null, tags: [], city: null, organizerId: '', kind: '' },
  collaborative: 0,
  popularity: 0,
  ...overrides,
});
const none = { affinities: new Map<string, number>() };

describe('ranking a feed', () => {
  test('blends the signals, each relative to its greatest value among the candidates', () => {
    const ranked = rankCandidates(settings, none, [
      candidate('popular', { popularity: 100 }),
      candidate('liked', { collaborative: 4 }),
      candidate('both', { collaborative: 2, popularity: 100 }),
    ]);
    expect(ranked.map((r) => [r.eventId, r.score])).toEqual([
      ['both', 1],
      ['liked', 1],
      ['popular', 0.5],
    ]);
    expect(ranked[1]!.reasons.map((r) => r.code)).toEqual(['liked_by_similar_users']);
  });

  test("popularity and features count less as more users lead from the user's events to a candidate (priorShrinkage)", () => {
    const shrinking = { ...settings, weights: { collaborative: 1, popularity: 1.5, features: 0 }, priorShrinkage: 0.1 };
    const rank = (support: number) =>
      rankCandidates(shrinking, none, [
        candidate('popular', { popularity: 100, collaborative: 0.5, support: support / 2 }),
        candidate('liked', { popularity: 10, collaborative: 1, support }),
      ]).map((r) => [r.eventId, r.score]);
    // Support 2: priors at 1 / 1.2 of their weight, popularity still decides.
    expect(rank(2)).toEqual([
      ['popular', 1.75],
      ['liked', 1.125],
    ]);
    // Support 50: priors at 1 / 6, the collaborative signal decides.
    expect(rank(50)).toEqual([
      ['liked', 1.025],
      ['popular', 0.75],
    ]);
    // Without the setting, support changes nothing.
    const plain = { ...shrinking, priorShrinkage: undefined };
    const ranked = rankCandidates(plain, none, [
      candidate('popular', { popularity: 100, collaborative: 0.5, support: 25 }),
      candidate('liked', { popularity: 10, collaborative: 1, support: 50 }),
    ]);
    expect(ranked.map((r) => r.eventId)).toEqual(['popular', 'liked']);
  });

  test("features: a match with the user's strongest interests lifts an event, and says so", () => {
    const profile = {
      affinities: new Map([
        ['category:jazz', 8],
        ['category:rock', 2],
      ]),
    };
    const event = (category: string) => ({ category, tags: [], city: null, organizerId: '', kind: '' });
    const ranked = rankCandidates(settings, profile, [
      candidate('rock', { features: event('rock') }),
      candidate('jazz', { features: event('jazz') }),
    ]);
    expect(ranked.map((r) => r.eventId)).toEqual(['jazz', 'rock']);
    expect(ranked[0]!.reasons).toEqual([
      { code: 'matches_interest', text: 'matches your interest in jazz', feature: { type: 'category', value: 'jazz' } },
    ]);
  });

  test('no event twice, and no reason twice on one item (a category and a tag of the same name)', () => {
    const jazz = { category: 'jazz', tags: ['jazz'], city: null, organizerId: '', kind: '' };
    const profile = {
      affinities: new Map([
        ['category:jazz', 5],
        ['tag:jazz', 5],
      ]),
    };
    const ranked = rankCandidates(settings, profile, [candidate('e1', { features: jazz }), candidate('e1', { features: jazz })]);
    expect(ranked).toHaveLength(1);
    expect(ranked[0]!.reasons.map((r) => r.text)).toEqual(['matches your interest in jazz']);
  });
});
