import type { ModelSettings } from '../../src/domain/model';
import { DEFAULT_WEIGHTS } from '../../src/domain/weights';

/** Model settings for tests of pure model logic: the shipped pairing, a fixed epoch. */
export const TEST_MODEL_SETTINGS: ModelSettings = {
  version: 1,
  weights: DEFAULT_WEIGHTS,
  halfLifeDays: 30,
  epoch: '2026-01-01T00:00:00.000Z',
  cooccurrenceWindow: 20,
  cooccurrenceDistanceDecay: 0.5,
  cooccurrenceBackward: 0.5,
};
