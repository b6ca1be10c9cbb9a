import { DrainLoop } from '../../src/jobs/drain-loop';

/** A step that reports the sizes given, then 0, and records when each ran (fake-timer ms). */
function steps(sizes: number[]) {
  const ran: number[] = [];
  const step = async () => {
    ran.push(Date.now());
    return sizes.shift() ?? 0;
  };
  return { ran, step };
}

const settle = async () => {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
};

describe('DrainLoop', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  test('by default a round runs steps until one reports nothing left', async () => {
    const { ran, step } = steps([5, 1]);
    const loop = new DrainLoop(step, { intervalMs: 1000, onFailure: () => undefined });
    loop.start();
    await settle();
    expect(ran).toHaveLength(3);
    await loop.stop();
  });

  test('with fullStep, a step smaller than that ends the round: what arrived meanwhile waits for the next', async () => {
    const { ran, step } = steps([100, 100, 40, 30]);
    const loop = new DrainLoop(step, { intervalMs: 1000, fullStep: 100, onFailure: () => undefined });
    loop.start();
    await settle();
    expect(ran).toEqual([0, 0, 0]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(ran).toEqual([0, 0, 0, 1000]);
    await loop.stop();
  });

  test('with gapMs, kicks during and after a round start the next one no sooner than gapMs after it began', async () => {
    const { ran, step } = steps([1, 0, 1, 0, 1, 0]);
    const loop = new DrainLoop(step, { intervalMs: 10_000, gapMs: 500, fullStep: 1, onFailure: () => undefined });
    loop.start();
    await settle();
    expect(ran).toEqual([0, 0]);
    for (const at of [100, 200, 300]) {
      await jest.advanceTimersByTimeAsync(at - Date.now());
      loop.kick();
    }
    await jest.advanceTimersByTimeAsync(499 - Date.now());
    expect(ran).toEqual([0, 0]);
    await jest.advanceTimersByTimeAsync(1);
    expect(ran).toEqual([0, 0, 500, 500]);
    // Long after the last round, a kick runs at once.
    await jest.advanceTimersByTimeAsync(2000);
    loop.kick();
    await settle();
    expect(ran).toEqual([0, 0, 500, 500, 2500, 2500]);
    await loop.stop();
  });

  test('a failed round is reported to onFailure; the next round that ends without failing, to onSuccess', async () => {
    const outcomes: string[] = [];
    let fail = 2;
    const step = async () => {
      if (fail > 0) {
        fail -= 1;
        throw new Error('down');
      }
      return 0;
    };
    const loop = new DrainLoop(step, {
      intervalMs: 1000,
      onFailure: (error) => outcomes.push((error as Error).message),
      onSuccess: () => outcomes.push('ok'),
    });
    loop.start();
    await settle();
    await jest.advanceTimersByTimeAsync(2000);
    expect(outcomes).toEqual(['down', 'down', 'ok']);
    await loop.stop();
  });

  test('a stopped loop runs nothing more, even a round it had put off', async () => {
    const { ran, step } = steps([1, 0, 1]);
    const loop = new DrainLoop(step, { intervalMs: 1000, gapMs: 500, onFailure: () => undefined });
    loop.start();
    await settle();
    loop.kick();
    await loop.stop();
    await jest.advanceTimersByTimeAsync(5000);
    expect(ran).toEqual([0, 0]);
  });
});
