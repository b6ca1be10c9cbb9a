import { searchSpace, type Fittable } from '../../eval/fit';
import { checkSettings, RECOMMENDATION_SETTINGS } from '../../src/domain/fitted-settings';

describe('the fit’s search space', () => {
  test('holds only settings the service takes: a fitted file is never refused at start', () => {
    const shipped: Fittable = {
      model: RECOMMENDATION_SETTINGS.model,
      feed: { ranking: RECOMMENDATION_SETTINGS.ranking, candidates: RECOMMENDATION_SETTINGS.candidates },
      itemModel: RECOMMENDATION_SETTINGS.itemModel,
    };
    const space = [...searchSpace(), ...searchSpace(shipped)];
    expect(space.length).toBeGreaterThan(100);
    for (const s of space) {
      const file = {
        ...RECOMMENDATION_SETTINGS,
        model: s.model,
        ranking: s.feed.ranking,
        candidates: s.feed.candidates,
        itemModel: s.itemModel,
      };
      expect(() => checkSettings(file)).not.toThrow();
    }
  });
});
