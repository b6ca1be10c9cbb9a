import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient, memoryBuffer, TokenRefusedError, type Dropped, type PendingInteraction } from '../src';
import { buildEvent } from '../../../test/helpers/factories';
import { runEntry } from '../../../test/helpers/processes';
import { sparePort, TestRedis } from '../../../test/helpers/redis-server';
import { startStack, type Stack } from '../../../test/helpers/stack';
import { sleep, waitFor } from '../../../test/helpers/wait';

/** Every row of the user: how many, and how many distinct interactions (a doubled one shows as fewer). */
async function landed(stack: Stack, userId: string) {
  const [row] = await stack
    .db('interactions')
    .where({ user_id: userId })
    .select(stack.db.raw('count(*)::int as n, count(distinct id)::int as distinct'));
  return row as { n: number; distinct: number };
}

const waitForRows = (stack: Stack, userId: string, n: number) =>
  waitFor(`${n} rows of ${userId}`, async () => ((await landed(stack, userId)).n >= n ? landed(stack, userId) : undefined), 60_000);

describe('the TypeScript client, against the service', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_WRITES_PER_MINUTE: '0' } });
  });
  afterAll(() => stack.stop());

  test('batches what it tracks, records each once, and reports and drops what the service refuses', async () => {
    const events = [await buildEvent(stack.db), await buildEvent(stack.db)];
    const userId = `user-${randomUUID()}`;
    const dropped: Dropped[] = [];
    const fetches: number[] = [];
    const client = createClient({
      baseUrl: stack.baseUrl,
      getToken: () => stack.token({ sub: userId }),
      batchSize: 50,
      onDrop: (d) => dropped.push(d),
      fetch: async (input, init) => {
        fetches.push(JSON.parse(String(init?.body)).interactions.length);
        return fetch(input, init);
      },
    });
    for (let i = 0; i < 120; i += 1)
      client.track(events[i % 2]!.id, i % 10 === 0 ? 'SAVE' : 'VIEW', { recommendationId: `ranking-${i % 3}` });
    client.track(randomUUID(), 'VIEW'); // no such event
    expect(client.pending).toBe(121);
    await client.flush();
    expect(client.pending).toBe(0);
    expect(fetches).toEqual([50, 50, 21]);
    expect(dropped).toEqual([expect.objectContaining({ status: 404, error: expect.objectContaining({ code: 'event_not_found' }) })]);
    expect(await waitForRows(stack, userId, 120)).toEqual({ n: 120, distinct: 120 });
    const named = await stack.db('interactions').where({ user_id: userId }).countDistinct({ n: 'recommendation_id' });
    expect(named).toEqual([{ n: '3' }]); // each carried the feed page it came from
    await client.close();
  });

  test('a batch too large as a whole is split: only the item too large alone is dropped', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const dropped: Dropped[] = [];
    const client = createClient({
      baseUrl: stack.baseUrl,
      getToken: () => stack.token({ sub: userId }),
      onDrop: (d) => dropped.push(d),
      retryDelayMs: 10,
    });
    for (let i = 0; i < 7; i += 1) client.track(event.id, 'VIEW');
    client.track('x'.repeat(1_300_000), 'VIEW'); // over the body limit on its own
    await client.flush();
    expect(dropped.map((d) => d.status)).toEqual([413]);
    expect(await waitForRows(stack, userId, 7)).toEqual({ n: 7, distinct: 7 });
    await client.close();
  });

  test('reads the feed within filters, pages it, and reads similar events; an error answer is an ApiError', async () => {
    const gig = await buildEvent(stack.db, { kind: 'gig', category: 'Blues', city: 'Köln' });
    await buildEvent(stack.db, { kind: 'gig', category: 'Blues', city: 'Köln' });
    await buildEvent(stack.db, { kind: 'event', category: 'Blues', city: 'Köln' });
    const userId = `user-${randomUUID()}`;
    const client = createClient({ baseUrl: stack.baseUrl, getToken: () => stack.token({ sub: userId }) });
    const filters = { kind: 'gig', city: 'KÖLN', category: ['blues', 'soul'], startsAfter: new Date(Date.now() - 1000) } as const;
    const first = await client.feed({ ...filters, limit: 1 });
    const second = await client.feed({ ...filters, limit: 1, cursor: first.nextCursor! });
    expect(second.recommendationId).toBe(first.recommendationId);
    expect([...first.items, ...second.items].map((i) => [i.event.kind, i.event.city])).toEqual([
      ['gig', 'Köln'],
      ['gig', 'Köln'],
    ]);
    await expect(client.feed({ cursor: first.nextCursor! })).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });

    const similar = await client.similar(gig.id, { limit: 5 });
    expect(similar.items.length).toBeGreaterThan(0);
    expect(similar.items.map((i) => i.eventId)).not.toContain(gig.id);
    await expect(client.similar(randomUUID())).rejects.toMatchObject({ name: 'ApiError', status: 404, code: 'event_not_found' });
    await expect(client.feed({ kind: 'concert' as 'gig' })).rejects.toMatchObject({ status: 400, code: 'validation_failed' });
    await client.close();
  });

  test('a retry after a lost answer records nothing twice (the key is given when tracked)', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    let calls = 0;
    const client = createClient({
      baseUrl: stack.baseUrl,
      getToken: () => stack.token({ sub: userId }),
      retryDelayMs: 10,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        calls += 1;
        if (calls === 1) throw new TypeError('the answer was lost on the way back');
        return response;
      },
    });
    for (let i = 0; i < 5; i += 1) client.track(event.id, 'CLICK');
    await client.flush();
    expect(calls).toBe(2);
    await sleep(500);
    expect(await waitForRows(stack, userId, 5)).toEqual({ n: 5, distinct: 5 });
  });

  test("a 200 that is not the service's answer, and a getToken that fails, are retried: nothing is lost or doubled", async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const retries: string[] = [];
    let tokens = 0;
    let calls = 0;
    const client = createClient({
      baseUrl: stack.baseUrl,
      getToken: async () => {
        tokens += 1;
        if (tokens === 1) throw new Error('offline: token refresh failed');
        return stack.token({ sub: userId });
      },
      retryDelayMs: 10,
      onRetry: (reason) => retries.push(reason),
      fetch: async (input, init) => {
        calls += 1;
        // A wrong baseUrl or a proxy's page: 200 and HTML. The second one after the request landed.
        if (calls === 1) return new Response('<!doctype html><title>app</title>', { status: 200 });
        const response = await fetch(input, init);
        return calls === 2 ? new Response('{"results": [', { status: 200 }) : response;
      },
    });
    for (let i = 0; i < 3; i += 1) client.track(event.id, 'VIEW');
    await client.flush();
    expect(retries).toEqual([
      'getToken failed: offline: token refresh failed',
      'HTTP 200 without a result per item',
      'HTTP 200 without a result per item',
    ]);
    await sleep(500);
    expect(await waitForRows(stack, userId, 3)).toEqual({ n: 3, distinct: 3 });
    await client.close();
  });

  test('after a timeout or a 503 it sends smaller batches, and larger again after successes', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const sizes: number[] = [];
    let slowLink = true; // a link on which the first request hangs and batches over 12 never get through
    const client = createClient({
      baseUrl: stack.baseUrl,
      getToken: () => stack.token({ sub: userId }),
      batchSize: 50,
      requestTimeoutMs: 3000, // only the hanging request reaches it, however loaded the machine
      retryDelayMs: 1,
      maxRetryDelayMs: 1,
      fetch: async (input, init) => {
        const size = JSON.parse(String(init?.body)).interactions.length as number;
        sizes.push(size);
        if (slowLink && sizes.length === 1) {
          return new Promise((_, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)));
        }
        if (slowLink && size > 12) return new Response('{"error":{"code":"service_unavailable","message":""}}', { status: 503 });
        return fetch(input, init);
      },
    });
    for (let i = 0; i < 100; i += 1) client.track(event.id, 'VIEW');
    await client.flush();
    expect(sizes.slice(0, 4)).toEqual([50, 25, 12, 24]); // timed out, 503, stored, 503 ...
    expect(await waitForRows(stack, userId, 100)).toEqual({ n: 100, distinct: 100 });

    slowLink = false;
    sizes.length = 0;
    for (let i = 0; i < 150; i += 1) client.track(event.id, 'VIEW');
    await client.flush();
    expect(sizes).toEqual([48, 50, 50, 2]); // the last of the first 100 went as 4 of 24 allowed, which doubled it
    expect(await waitForRows(stack, userId, 250)).toEqual({ n: 250, distinct: 250 });
    await client.close();
  });
});

describe('the TypeScript client when it cannot send', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_WRITES_PER_MINUTE: '0' } });
  });
  afterAll(() => stack.stop());

  test('a refused token: flush() rejects, the items are kept and not sent with it again; a new token sends them by itself', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    let token = 'expired-or-revoked';
    let requests = 0;
    const client = createClient({
      baseUrl: stack.baseUrl,
      getToken: () => token,
      retryDelayMs: 10,
      maxRetryDelayMs: 20,
      fetch: (input, init) => {
        requests += 1;
        return fetch(input, init);
      },
    });
    for (let i = 0; i < 5; i += 1) client.track(event.id, 'SAVE');
    const refused = await client.flush().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TokenRefusedError);
    expect((refused as TokenRefusedError).status).toBe(401);
    expect(client.pending).toBe(5);
    const sent = requests;
    await sleep(300); // a dozen rechecks of the token
    expect(requests).toBe(sent);

    token = stack.token({ sub: userId });
    expect(await waitForRows(stack, userId, 5)).toEqual({ n: 5, distinct: 5 });
    await client.flush();
    expect(client.pending).toBe(0);
    await client.close();
  });

  test('past maxBuffered the oldest are dropped first, told to onOverflow, and gone from storage', async () => {
    const storage = memoryBuffer();
    const overflowed: PendingInteraction[] = [];
    const client = createClient({
      baseUrl: `http://127.0.0.1:${await sparePort()}`, // offline
      getToken: () => 'token',
      storage,
      maxBuffered: 5,
      flushIntervalMs: 60_000,
      onOverflow: (dropped) => overflowed.push(...dropped),
    });
    const eventIds = Array.from({ length: 8 }, () => randomUUID());
    eventIds.forEach((eventId) => client.track(eventId, 'VIEW'));
    expect(client.pending).toBe(5);
    expect(overflowed.map((i) => i.eventId)).toEqual(eventIds.slice(0, 3));
    expect((await storage.load()).map((i) => i.eventId)).toEqual(eventIds.slice(3));
  });

  test('a Node process that tracks and ends without flushing sends what it holds as it exits', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const started = Date.now();
    const script = runEntry('clients/typescript/test/fixtures/exit-tracker.ts', {
      BASE_URL: stack.baseUrl,
      TOKEN: stack.token({ sub: userId }),
      EVENT_ID: event.id,
      TRACK: '25',
    });
    expect(await script.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000); // not held by the minute-long batch timer
    expect(await waitForRows(stack, userId, 25)).toEqual({ n: 25, distinct: 25 });
  });
});

describe('the TypeScript client through outages', () => {
  test('Redis stopped and restarted mid-stream: every tracked interaction lands exactly once', async () => {
    // As in production: Redis keeps what it acknowledged (AOF, fsync always).
    const redis = await TestRedis.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    // A job the worker held when Redis died is redelivered once its lock lapses: 2 s here, not 30.
    const stack = await startStack({ env: { REDIS_URL: redis.url, RATE_LIMIT_WRITES_PER_MINUTE: '0', WORKER_LOCK_MS: '2000' } });
    try {
      const event = await buildEvent(stack.db);
      const userId = `user-${randomUUID()}`;
      const retries: string[] = [];
      const client = createClient({
        baseUrl: stack.baseUrl,
        getToken: () => stack.token({ sub: userId }),
        storage: memoryBuffer(),
        batchSize: 20,
        flushIntervalMs: 20,
        retryDelayMs: 100,
        maxRetryDelayMs: 1000,
        onRetry: (reason) => retries.push(reason),
      });
      for (let i = 0; i < 300; i += 1) {
        client.track(event.id, 'VIEW');
        if (i === 100) await redis.kill();
        if (i === 200) await redis.restart();
        await sleep(5);
      }
      await client.flush();
      expect(retries.some((r) => /HTTP 503|network/.test(r))).toBe(true);
      expect(await waitForRows(stack, userId, 300)).toEqual({ n: 300, distinct: 300 });
      await sleep(1000);
      expect(await landed(stack, userId)).toEqual({ n: 300, distinct: 300 });
      await client.close();
    } finally {
      await stack.stop();
      await redis.stop();
    }
  }, 120_000);

  test('the client process killed mid-stream and started again on its file: every tracked interaction lands exactly once', async () => {
    const stack = await startStack({ env: { RATE_LIMIT_WRITES_PER_MINUTE: '0' } });
    const dir = mkdtempSync(path.join(tmpdir(), 'client-buffer-'));
    try {
      const events = [await buildEvent(stack.db), await buildEvent(stack.db), await buildEvent(stack.db)];
      const userId = `user-${randomUUID()}`;
      const env = {
        BASE_URL: stack.baseUrl,
        TOKEN: stack.token({ sub: userId }),
        BUFFER_FILE: path.join(dir, 'buffer.json'),
        EVENT_IDS: events.map((e) => e.id).join(','),
      };
      const first = runEntry('clients/typescript/test/fixtures/tracker.ts', { ...env, TRACK: '300' });
      await waitFor('a few batches to be answered', async () => (first.output().match(/answered 200/g) ?? []).length >= 5, 30_000);
      first.child.kill('SIGKILL');
      await first.exited;
      expect(first.output()).not.toMatch(/flushed/);
      expect((await landed(stack, userId)).n).toBeLessThan(300);

      const second = runEntry('clients/typescript/test/fixtures/tracker.ts', { ...env, TRACK: '0' });
      expect(await second.exited).toBe(0);
      expect(second.output()).toMatch(/flushed/);
      expect(await waitForRows(stack, userId, 300)).toEqual({ n: 300, distinct: 300 });
      await sleep(1000);
      expect(await landed(stack, userId)).toEqual({ n: 300, distinct: 300 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await stack.stop();
    }
  });
});
