import { beforeDeadline } from '../../src/ops/deadline';

const busyFor = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until); // the event loop held, as by a burst of requests
};

describe('beforeDeadline', () => {
  test('rejects with a 503 once the deadline passes without an answer', async () => {
    await expect(beforeDeadline(new Promise(() => undefined), Date.now() + 10)).rejects.toMatchObject({
      status: 503,
      code: 'service_unavailable',
    });
  });

  test('an answer that arrived in time but is read in the turn its deadline fires counts: the loop was busy, not the dependency', async () => {
    const answer = new Promise((resolve) => setTimeout(() => resolve('stored'), 20));
    const checked = beforeDeadline(answer, Date.now() + 10);
    busyFor(50); // both are due when the loop runs again; the deadline's timer first
    await expect(checked).resolves.toBe('stored');
  });
});
