import { randomUUID } from 'node:crypto';
import { connectRedis } from '../src/data/redis';
import { RateLimiter } from '../src/http/rate-limit';
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
    await wellInsideAMinute();
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

  test('requests of many users at once are each counted to their own user', async () => {
    await wellInsideAMinute();
    const event = await buildEvent(stack.db);
    const users = Array.from({ length: 6 }, () => `user-${randomUUID()}`);
    const sends = users.flatMap((userId, u) => Array.from({ length: u + 1 }, () => userId)); // 1 to 6 each, 21 at once
    const answers = await Promise.all(
      sends.map((userId) =>
        stack
          .request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId: event.id, action: 'VIEW' } })
          .then((res) => ({ userId, status: res.status })),
      ),
    );
    const accepted = users.map((userId) => answers.filter((a) => a.userId === userId && a.status === 202).length);
    const refused = users.map((userId) => answers.filter((a) => a.userId === userId && a.status === 429).length);
    expect(accepted).toEqual([1, 2, 3, 3, 3, 3]);
    expect(refused).toEqual([0, 0, 0, 1, 2, 3]);
  });
});

describe('the limiter under load', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.stop());

  test('counts the takes of one turn in one call to Redis, each to its own user', async () => {
    await wellInsideAMinute();
    const redis = connectRedis(stack.config, { retryDelayMs: () => 100 });
    try {
      const limiter = new RateLimiter(redis, `${stack.config.queuePrefix}-limiter`, { readsPerMinute: 0, writesPerMinute: 3 });
      const calls = jest.spyOn(redis as unknown as { countRequests: () => Promise<number[]> }, 'countRequests');
      const users = Array.from({ length: 6 }, () => `user-${randomUUID()}`);
      const takes = users.flatMap((userId, u) => Array.from({ length: u + 1 }, () => userId)); // 1 to 6 each
      const deadline = Date.now() + 2000;
      const granted = await Promise.all(takes.map((userId) => limiter.take(userId, 'writes', 1, deadline).then((t) => ({ userId, ...t }))));

      expect(calls).toHaveBeenCalledTimes(1);
      expect(users.map((userId) => granted.filter((g) => g.userId === userId && g.granted === 1).length)).toEqual([1, 2, 3, 3, 3, 3]);
      const [again] = await Promise.all([limiter.take(users[0]!, 'writes', 2, deadline), limiter.take(users[5]!, 'writes', 1, deadline)]);
      expect(again.granted).toBe(2); // the first user had taken 1 of 3
      expect(calls).toHaveBeenCalledTimes(2);

      // A request already past its deadline in the same turn does not cut the others' wait short
      // (Redis's answer held back 50 ms here, within CHECK_MS).
      const socket = (redis as unknown as { stream: { pause(): void; resume(): void } }).stream;
      socket.pause();
      setTimeout(() => socket.resume(), 50);
      const [late, full] = await Promise.all([
        limiter.take(`user-${randomUUID()}`, 'writes', 1, Date.now() - 1),
        limiter.take(users[5]!, 'writes', 1, deadline),
      ]);
      expect(late.granted).toBe(1);
      expect(full.granted).toBe(0);
    } finally {
      redis.disconnect();
    }
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
    await wellInsideAMinute();
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

/** The limits count per calendar minute: a test that counts up to one starts well inside a minute. */
async function wellInsideAMinute(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 100);
}
