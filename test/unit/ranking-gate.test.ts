import { RankingGate, type GateOutcome } from '../../src/feed/ranking-gate';
import { ServiceUnavailableError } from '../../src/errors';

/** A piece of work that finishes when told to. */
function controlled<T>(value: T) {
  let finish!: () => void;
  const started = jest.fn();
  const work = () => {
    started();
    return new Promise<T>((resolve) => {
      finish = () => resolve(value);
    });
  };
  return { work, started, finish: () => finish() };
}

const later = () => Date.now() + 10_000;
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('the ranking gate', () => {
  let outcomes: GateOutcome[];
  beforeEach(() => {
    outcomes = [];
  });
  const gate = (concurrency: number, queue: number, keepMs = 0) => new RankingGate({ concurrency, queue, keepMs }, (o) => outcomes.push(o));

  test('requests for one key while its ranking runs share it: the work runs once', async () => {
    const g = gate(2, 0);
    const one = controlled('ranking');
    const results = Array.from({ length: 64 }, () => g.run('alice\n1', later(), one.work));
    await settled();
    one.finish();
    expect(await Promise.all(results)).toEqual(Array(64).fill('ranking'));
    expect(one.started).toHaveBeenCalledTimes(1);
    expect(outcomes.filter((o) => o === 'ranked')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'shared')).toHaveLength(63);
  });

  test('a finished ranking still answers its key for keepMs, and then the next request ranks again', async () => {
    const g = gate(1, 0, 50);
    await g.run('alice\n1', later(), async () => 1);
    expect(await g.run('alice\n1', later(), async () => 2)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await g.run('alice\n1', later(), async () => 3)).toBe(3);
    expect(outcomes).toEqual(['ranked', 'shared', 'ranked']);
  });

  test('past the concurrency and the queue, a request is refused at once with a 503', async () => {
    const g = gate(1, 1);
    const running = controlled('a');
    const queued = controlled('b');
    const a = g.run('a', later(), running.work);
    const b = g.run('b', later(), queued.work);
    await expect(g.run('c', later(), async () => 'c')).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(queued.started).not.toHaveBeenCalled();

    running.finish();
    await a;
    await settled();
    expect(queued.started).toHaveBeenCalledTimes(1); // the slot is handed over
    queued.finish();
    expect(await b).toBe('b');
    expect(outcomes).toEqual(['ranked', 'refused', 'ranked']);
  });

  test('a queued request gives up at its deadline, and its place goes', async () => {
    const g = gate(1, 5);
    const running = controlled('a');
    const a = g.run('a', later(), running.work);
    const waiting = jest.fn(async () => 'never');
    await expect(g.run('b', Date.now() + 30, waiting)).rejects.toMatchObject({ status: 503, headers: { 'Retry-After': '1' } });
    running.finish();
    await a;
    expect(waiting).not.toHaveBeenCalled();
    expect(await g.run('c', later(), async () => 'c')).toBe('c');
  });

  test('a failing ranking frees its slot and fails every request that shared it', async () => {
    const g = gate(1, 0);
    const failing = () => Promise.reject(new Error('database away'));
    await expect(Promise.all([g.run('k', later(), failing), g.run('k', later(), failing)])).rejects.toThrow('database away');
    expect(await g.run('k', later(), async () => 'ok')).toBe('ok');
  });
});
