import { randomUUID } from 'node:crypto';
import type { RecordInteractionPayload } from '../src/jobs/definitions';
import { buildEvent } from './helpers/factories';
import { startStack, type Stack } from './helpers/stack';
import { sleep, waitFor } from './helpers/wait';

describe('the per-user limit on writes', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { RATE_LIMIT_WRITES_PER_MINUTE: '3' } });
    await waitFor('readiness', async () => (await stack.request('GET', '/readyz', { token: null })).status === 200);
  });
  afterAll(() => stack.stop());

  test('past the limit a write gets 429 with Retry-After and queues nothing; reads and other users go on', async () => {
    // The window is a calendar minute: start well inside one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 100);
    const event = await buildEvent(stack.db);
    const [alice, bob] = [`user-${randomUUID()}`, `user-${randomUUID()}`];
    const post = (userId: string) =>
      stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId: event.id, action: 'VIEW' } });

    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await post(alice)).status);
    const refused = await post(alice);

    expect(statuses).toEqual([202, 202, 202]);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    const collection = await stack.request('POST', '/collections', { token: stack.token({ sub: alice }), body: { name: 'Later' } });
    expect(collection.status).toBe(429); // every write counts, not only interactions

    const queued = (await stack.producer.queue.getWaiting()).flatMap((job) =>
      (job.data.interactions ?? []).filter((i: RecordInteractionPayload) => i.userId === alice),
    );
    expect(queued).toHaveLength(3);
    expect((await stack.request('GET', '/recommendations', { token: stack.token({ sub: alice }) })).status).toBe(200);
    expect((await post(bob)).status).toBe(202);
  });
});

describe('the per-user limit on reads', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { RATE_LIMIT_READS_PER_MINUTE: '4' } });
    await waitFor('readiness', async () => (await stack.request('GET', '/readyz', { token: null })).status === 200);
  });
  afterAll(() => stack.stop());

  test('past the limit a read gets 429 with Retry-After; writes, other users and the probes go on', async () => {
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 100);
    const [alice, bob] = [`user-${randomUUID()}`, `user-${randomUUID()}`];
    const get = (userId: string, path: string) => stack.request('GET', path, { token: stack.token({ sub: userId }) });

    const statuses = [];
    for (const path of ['/collections', '/recommendations', '/collections', '/collections']) statuses.push((await get(alice, path)).status);
    const refused = await get(alice, '/recommendations');

    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: { code: 'rate_limited', message: expect.stringMatching(/reads/) } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await get(alice, '/collections')).status).toBe(429);
    expect((await stack.request('POST', '/collections', { token: stack.token({ sub: alice }), body: { name: 'x' } })).status).toBe(201);
    expect((await get(bob, '/collections')).status).toBe(200);
    expect((await stack.request('GET', '/healthz', { token: null })).status).toBe(200);
  });
});
