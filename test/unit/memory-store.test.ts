import { sampledScores } from '../../eval/evaluate';
import { feedCandidatesInMemory, rankInMemory } from '../../eval/feed';
import { MemoryModelStore } from '../../eval/memory-store';
import { RECOMMENDATION_SETTINGS } from '../../src/domain/fitted-settings';
import { applyInteractions } from '../../src/domain/model';
import { TEST_MODEL_SETTINGS as settings } from '../helpers/model-settings';

describe("the evaluation's in-memory model", () => {
  test("an event's neighbours come strongest first, as the feed's index reads them, however few there are", async () => {
    const store = new MemoryModelStore(new Map());
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    // x → a once, then x → b twice: a is paired first, b more often.
    const steps = [
      ['u1', 'x'],
      ['u1', 'a'],
      ['u2', 'x'],
      ['u2', 'b'],
      ['u3', 'x'],
      ['u3', 'b'],
    ] as const;
    await applyInteractions(
      store,
      settings,
      steps.map(([userId, eventId], i) => ({ userId, eventId, action: 'SAVE' as const, occurredAt: at(i) })),
    );
    expect(store.neighbours('x', 10)).toEqual(['b', 'a']);
    expect(store.neighbours('x', 1)).toEqual(['b']);
  });
});

describe("the sampled protocol's full model", () => {
  test('scores each sampled event as the feed scores it among its candidates, not relative to the other sampled events', async () => {
    const store = new MemoryModelStore(new Map());
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    // Many went from x to b, one from x to c; `me` has just been to x.
    const steps: [string, string][] = [];
    for (let u = 0; u < 6; u += 1) steps.push([`u${u}`, 'x'], [`u${u}`, 'b']);
    steps.push(['u6', 'x'], ['u6', 'c'], ['me', 'x']);
    await applyInteractions(
      store,
      settings,
      steps.map(([userId, eventId], i) => ({ userId, eventId, action: 'SAVE' as const, occurredAt: at(i) })),
    );
    const feedSettings = { ranking: RECOMMENDATION_SETTINGS.ranking, candidates: RECOMMENDATION_SETTINGS.candidates };
    const served = feedCandidatesInMemory(store, feedSettings, 'me');
    const feed = new Map(
      rankInMemory(store, feedSettings, 'me', served.ids, served.collaborative, served.itemModel).map((i) => [i.eventId, i.score]),
    );
    // c's faint co-occurrence is the strongest among the sampled {c, d}, far from the feed's strongest (b).
    const sampled = sampledScores(store, feedSettings, 'me', served, ['c', 'd']);
    expect(sampled.get('c')).toBe(feed.get('c'));
    expect(sampled.get('c')).toBeLessThan(feed.get('b')! / 2);
  });
});
