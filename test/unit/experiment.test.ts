import { ConfigError, loadConfig } from '../../src/config';
import { RECOMMENDATION_SETTINGS } from '../../src/domain/fitted-settings';
import { assignVariant, compareVariants, NO_EXPERIMENT } from '../../src/feed/experiment';

const experiment = (value: unknown) => loadConfig({ NODE_ENV: 'development', FEED_EXPERIMENT: JSON.stringify(value) }).feedVariants;
const problemsOf = (value: unknown) => {
  try {
    experiment(value);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  return '';
};

describe('the feed experiment', () => {
  test('unset, everyone is in control with the fitted settings', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).feedVariants).toEqual(NO_EXPERIMENT);
    expect(assignVariant(NO_EXPERIMENT, 'anyone').name).toBe('control');
  });

  test("a variant's settings override the fitted ranking and candidates, the rest kept", () => {
    const [control, fresh] = experiment([
      { name: 'control', share: 0.5 },
      {
        name: 'fresh',
        share: 0.5,
        settings: {
          ranking: { recencyDecay: 1.5, priorShrinkage: 0.5, weights: { popularity: 0.1, itemModel: 0 } },
          candidates: { soonest: 10, itemModel: 20 },
        },
      },
    ]);
    expect(control).toMatchObject({ ranking: RECOMMENDATION_SETTINGS.ranking, candidates: RECOMMENDATION_SETTINGS.candidates });
    expect(fresh!.ranking).toEqual({
      ...RECOMMENDATION_SETTINGS.ranking,
      recencyDecay: 1.5,
      priorShrinkage: 0.5,
      weights: { ...RECOMMENDATION_SETTINGS.ranking.weights, popularity: 0.1, itemModel: 0 },
    });
    expect(fresh!.candidates).toEqual({ ...RECOMMENDATION_SETTINGS.candidates, soonest: 10, itemModel: 20 });
  });

  test('refuses at start what it cannot run: model settings, shares not adding up to 1, names twice, unknown keys', () => {
    expect(problemsOf([{ name: 'a', share: 1, settings: { model: { halfLifeDays: 3 } } }])).toMatch(
      /FEED_EXPERIMENT.*model cannot differ by variant \(the workers store/,
    );
    expect(
      problemsOf([
        { name: 'a', share: 0.5 },
        { name: 'b', share: 0.4 },
      ]),
    ).toMatch(/shares must add up to 1/);
    expect(
      problemsOf([
        { name: 'a', share: 0.5 },
        { name: 'a', share: 0.5 },
      ]),
    ).toMatch(/names must differ/);
    expect(problemsOf([{ name: 'a', share: 1, settings: { ranking: { nope: 1 } } }])).toMatch(/FEED_EXPERIMENT/);
    expect(problemsOf('not an array')).toMatch(/FEED_EXPERIMENT/);
  });

  test('deals users by a stable hash, in proportion to the shares, and afresh for another experiment', () => {
    const variants = experiment([
      { name: 'control', share: 0.7 },
      { name: 'b', share: 0.3 },
    ]);
    const users = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
    const assigned = users.map((u) => assignVariant(variants, u).name);
    expect(users.map((u) => assignVariant(variants, u).name)).toEqual(assigned);
    expect(assigned.filter((v) => v === 'b').length / users.length).toBeCloseTo(0.3, 1);
    const other = experiment([
      { name: 'control', share: 0.7 },
      { name: 'c', share: 0.3 },
    ]);
    const moved = users.filter((u, i) => (assignVariant(other, u).name === 'c') !== (assigned[i] === 'b')).length;
    expect(moved / users.length).toBeGreaterThan(0.3);
  });

  test('compares each variant with the first: the difference of positive rates and its 95 % interval', () => {
    const [first, second] = compareVariants([
      { variant: 'control', impressions: 10_000, positive: 500 },
      { variant: 'b', impressions: 10_000, positive: 600 },
    ]);
    expect(first).toEqual({ variant: 'control', impressions: 10_000, positive: 500, rate: 0.05, difference: null });
    const margin = 1.96 * Math.sqrt((0.05 * 0.95) / 10_000 + (0.06 * 0.94) / 10_000);
    expect(second!.difference!.estimate).toBeCloseTo(0.01, 10);
    expect(second!.difference!.low).toBeCloseTo(0.01 - margin, 10);
    expect(second!.difference!.high).toBeCloseTo(0.01 + margin, 10);
  });
});
