import { MemoryModelStore } from '../../eval/memory-store';
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
