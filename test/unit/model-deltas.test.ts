import {
  applyInteractions,
  DISMISS_FEATURE_FACTOR,
  epochScale,
  pairKey,
  pairWeights,
  type ModelDelta,
  type ModelInteraction,
  type ModelStore,
} from '../../src/domain/model';
import { DEFAULT_WEIGHTS } from '../../src/domain/weights';
import { TEST_MODEL_SETTINGS } from '../helpers/model-settings';

const settings = TEST_MODEL_SETTINGS;

/** A store that remembers what it was given: the delta is the unit's whole output. */
function recordingStore(alreadyPositive: string[] = []) {
  const deltas: ModelDelta[] = [];
  const store: ModelStore = {
    async positivePairs(pairs) {
      return new Set(pairs.map((p) => pairKey(p.userId, p.eventId)).filter((key) => alreadyPositive.includes(key)));
    },
    async add(delta) {
      deltas.push(delta);
    },
  };
  return { store, deltas };
}

const at = new Date('2026-01-31T00:00:00.000Z'); // one half-life after the epoch
const interaction = (eventId: string, action: ModelInteraction['action'], userId = 'u1'): ModelInteraction => ({
  userId,
  eventId,
  action,
  occurredAt: at,
});

describe('what a batch of interactions adds to the model', () => {
  test('signals are stored scaled by 2^((t - epoch) / half-life), so older ones weigh less once divided by now', () => {
    expect(epochScale(settings, new Date(settings.epoch))).toBe(1);
    expect(epochScale(settings, at)).toBeCloseTo(2, 12);
  });

  test('a pair of positive events counts distance^-decay forward, and that times cooccurrenceBackward the other way', () => {
    expect(pairWeights(settings, 1)).toEqual({ forward: 1, backward: 0.5 });
    expect(pairWeights(settings, 4)).toEqual({ forward: 0.5, backward: 0.25 });
    const undirected = { ...settings, cooccurrenceDistanceDecay: 0, cooccurrenceBackward: 1 };
    expect(pairWeights(undirected, 7)).toEqual({ forward: 1, backward: 1 });
  });

  test('repeats of one pair sum into one row; the first positive is counted once, for popularity and co-occurrence', async () => {
    const { store, deltas } = recordingStore();
    await applyInteractions(store, settings, [interaction('e1', 'VIEW'), interaction('e1', 'SAVE'), interaction('e1', 'VIEW')]);
    const [delta] = deltas;
    const weight = 2 * DEFAULT_WEIGHTS.VIEW + DEFAULT_WEIGHTS.SAVE;
    expect(delta!.pairs).toEqual([
      expect.objectContaining({ userId: 'u1', eventId: 'e1', score: weight, count: 3, positiveAt: at, dismissedAt: null }),
    ]);
    expect(delta!.pairs[0]!.decayed).toBeCloseTo(weight * 2, 12);
    expect(delta!.pairs[0]!.featureWeight).toBeCloseTo(weight * 2, 12);
    expect(delta!.popularity).toEqual([{ eventId: 'e1', value: expect.closeTo(weight * 2, 12), engaged: 1 }]);
    expect(delta!.firstPositives).toEqual([{ userId: 'u1', eventId: 'e1', at }]);
  });

  test('a pair that was positive before adds no new engaged user and no co-occurrence', async () => {
    const { store, deltas } = recordingStore([pairKey('u1', 'e1')]);
    await applyInteractions(store, settings, [interaction('e1', 'CLICK')]);
    expect(deltas[0]!.popularity[0]!.engaged).toBe(0);
    expect(deltas[0]!.firstPositives).toEqual([]);
  });

  test("a dismissal is negative for the pair, lowers the event's features mildly, and adds nothing to popularity", async () => {
    const { store, deltas } = recordingStore();
    await applyInteractions(store, settings, [interaction('e1', 'DISMISS')]);
    const [delta] = deltas;
    expect(delta!.pairs[0]).toMatchObject({ score: DEFAULT_WEIGHTS.DISMISS, dismissedAt: at, positiveAt: null });
    expect(delta!.popularity).toEqual([]);
    expect(delta!.pairs[0]!.featureWeight).toBeCloseTo(DEFAULT_WEIGHTS.DISMISS * 2 * DISMISS_FEATURE_FACTOR, 12);
  });

  test('rows are handed over in key order, so concurrent writers lock in one order', async () => {
    const { store, deltas } = recordingStore();
    await applyInteractions(store, settings, [
      interaction('b', 'VIEW', 'u2'),
      interaction('a', 'VIEW', 'u2'),
      interaction('z', 'VIEW', 'u1'),
    ]);
    expect(deltas[0]!.pairs.map((p) => `${p.userId}/${p.eventId}`)).toEqual(['u1/z', 'u2/a', 'u2/b']);
  });

  test('an empty batch touches nothing', async () => {
    const { store, deltas } = recordingStore();
    await applyInteractions(store, settings, []);
    expect(deltas).toEqual([]);
  });
});
