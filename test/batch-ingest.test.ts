import { request } from 'node:http';
import { randomUUID } from 'node:crypto';
import { epochScale } from '../src/domain/model';
import { interactionsOf, scoreOf, waitForInteractions } from './helpers/db';
import { buildEvent } from './helpers/factories';
import { TestRedis } from './helpers/redis-server';
import { startStack, type Stack } from './helpers/stack';
import { sleep } from './helpers/wait';

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString();
const rowsOf = (stack: Stack, userId: string) =>
  stack
    .db('interactions')
    .where({ user_id: userId })
    .orderBy('created_at')
    .select('id', 'event_id', 'action', 'created_at', 'occurred_at') as Promise<{ id: string; createdAt: Date; occurredAt: Date }[]>;

describe('POST /interactions/batch', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_WRITES_PER_MINUTE: '0' } });
  });
  afterAll(() => stack.stop());

  const batch = (userId: string, body: unknown, headers: Record<string, string> = {}) =>
    stack.request('POST', '/interactions/batch', { token: stack.token({ sub: userId }), body, headers });

  test('answers each item on its own, in order, and records the valid ones even when others are refused', async () => {
    const [event, other] = [await buildEvent(stack.db), await buildEvent(stack.db)];
    const userId = `user-${randomUUID()}`;
    const res = await batch(userId, {
      interactions: [
        { eventId: event.id, action: 'VIEW' },
        { eventId: randomUUID(), action: 'VIEW' },
        { eventId: event.id, action: 'LIKE' },
        { eventId: other.id.toUpperCase(), action: 'SAVE', occurredAt: minutesAgo(3) },
        { eventId: event.id, action: 'CLICK', occurredAt: '2020-01-01T00:00:00Z' },
        'not an object',
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { status: 202, id: expect.any(String), eventId: event.id, action: 'VIEW' },
      { status: 404, error: { code: 'event_not_found', message: expect.any(String) } },
      { status: 400, error: { code: 'validation_failed', message: expect.stringMatching(/^action: /) } },
      { status: 202, id: expect.any(String), eventId: other.id, action: 'SAVE' },
      { status: 400, error: { code: 'occurred_at_out_of_range', message: expect.any(String) } },
      { status: 400, error: { code: 'validation_failed', message: expect.any(String) } },
    ]);
    const rows = await waitForInteractions(stack.db, userId, 2);
    await sleep(300);
    expect((await interactionsOf(stack.db, userId)).map((r) => [r.id, r.action])).toEqual([
      [res.body.results[0].id, 'VIEW'],
      [res.body.results[3].id, 'SAVE'],
    ]);
    expect(rows).toHaveLength(2);
  });

  test.each(['charset = utf-16le', 'charset=utf8'])('a body sent with %s is a 415 and nothing is queued', async (charset) => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const res = await stack.request('POST', '/interactions/batch', {
      token: stack.token({ sub: userId }),
      body: JSON.stringify({ interactions: [{ eventId: event.id, action: 'VIEW' }] }),
      headers: { 'content-type': `application/json; ${charset}` },
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
    await sleep(300);
    expect(await interactionsOf(stack.db, userId)).toEqual([]);
  });

  test('a retried batch with idempotency keys gets the same ids and records nothing new', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const body = {
      interactions: [
        { eventId: event.id, action: 'VIEW', idempotencyKey: 'screen-1/view' },
        { eventId: event.id, action: 'SAVE', idempotencyKey: 'screen-1/save' },
      ],
    };
    const first = await batch(userId, body);
    await waitForInteractions(stack.db, userId, 2);
    const again = await batch(userId, body);
    expect(again.body.results.map((r: { id: string }) => r.id)).toEqual(first.body.results.map((r: { id: string }) => r.id));
    await sleep(1000);
    expect(await interactionsOf(stack.db, userId)).toHaveLength(2);
    expect(await scoreOf(stack.db, userId, event.id)).toMatchObject({ interactionCount: 2 });
  });

  test('items of one batch with the same idempotency key: the first is recorded, the others answered with its id and nothing else', async () => {
    const [viewed, dismissed, applied] = [await buildEvent(stack.db), await buildEvent(stack.db), await buildEvent(stack.db)];
    const userId = `user-${randomUUID()}`;
    const res = await batch(userId, {
      interactions: [
        { eventId: viewed.id, action: 'VIEW', idempotencyKey: 'same' },
        { eventId: dismissed.id, action: 'DISMISS', idempotencyKey: 'same' },
        { eventId: applied.id, action: 'APPLY', idempotencyKey: 'same' },
      ],
    });
    const first = { status: 202, id: expect.any(String), eventId: viewed.id, action: 'VIEW' };
    expect(res.body.results).toEqual([first, first, first]);
    expect(new Set(res.body.results.map((r: { id: string }) => r.id)).size).toBe(1);
    await waitForInteractions(stack.db, userId, 1);
    await sleep(500);
    expect(await interactionsOf(stack.db, userId)).toEqual([expect.objectContaining({ eventId: viewed.id, action: 'VIEW' })]);
    expect(await stack.rankingCache.hidden(userId)).toEqual(new Set());
  });

  test('1 to 500 items: none, more, or a body too large for 500 is refused whole, and nothing is queued', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const item = { eventId: event.id, action: 'VIEW' };
    expect(await batch(userId, { interactions: [] })).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    expect(await batch(userId, { interactions: Array(501).fill(item) })).toMatchObject({
      status: 400,
      body: { error: { code: 'validation_failed' } },
    });
    const huge = { interactions: [{ ...item, idempotencyKey: 'k'.repeat(200), padding: 'x'.repeat(1_400_000) }] };
    expect(await batch(userId, huge)).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    // 500 items with every field at its longest are read and answered item by item (unknown events: 404s).
    const longest = {
      eventId: '\u0001'.repeat(200), // six bytes each, escaped
      action: 'DISMISS',
      occurredAt: new Date(Date.now() - 60_000).toISOString().replace('Z', '123+00:00'),
      idempotencyKey: '"'.repeat(200),
      recommendationId: '😀'.repeat(200), // four bytes each
    };
    const widest = await batch(userId, { sentAt: new Date().toISOString(), interactions: Array(500).fill(longest) });
    expect(widest.status).toBe(200);
    expect(widest.body.results).toHaveLength(500);
    expect(widest.body.results[0]).toMatchObject({ status: 404 });
    expect(await batch(userId, { sentAt: 'yesterday', interactions: [item] })).toMatchObject({ status: 400 });
    // A key belongs on each item: the header, which a batch would not read, is refused rather than ignored.
    expect(await batch(userId, { interactions: [item] }, { 'Idempotency-Key': 'k' })).toMatchObject({
      status: 400,
      body: { error: { code: 'validation_failed', message: expect.stringMatching(/^Idempotency-Key: /) } },
    });
    await sleep(500);
    expect(await interactionsOf(stack.db, userId)).toHaveLength(0);

    const full = await batch(userId, { interactions: Array.from({ length: 500 }, (_, i) => ({ ...item, idempotencyKey: `k${i}` })) });
    expect(full.status).toBe(200);
    expect(full.body.results.every((r: { status: number }) => r.status === 202)).toBe(true);
    await waitForInteractions(stack.db, userId, 500);
  });

  test("occurredAt: with sentAt, the client's clock skew is taken out; the model decays from when the user acted", async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    // A phone whose clock runs two hours behind: it recorded the SAVE 10 minutes before sending.
    const phoneNow = Date.now() - 2 * 3_600_000;
    const sent = Date.now();
    const res = await batch(userId, {
      sentAt: new Date(phoneNow).toISOString(),
      interactions: [
        { eventId: event.id, action: 'SAVE', occurredAt: new Date(phoneNow - 10 * 60_000).toISOString() },
        { eventId: event.id, action: 'VIEW' },
      ],
    });
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([202, 202]);
    await waitForInteractions(stack.db, userId, 2);
    const rows = await rowsOf(stack, userId);
    const [save, view] = [rows[0]!, rows[1]!];
    const expected = sent - 10 * 60_000;
    expect(Math.abs(new Date(save.occurredAt).getTime() - expected)).toBeLessThan(2000);
    expect(new Date(save.createdAt).getTime()).toBeGreaterThanOrEqual(sent - 1000); // the acceptance time stays
    expect(new Date(view.occurredAt)).toEqual(new Date(view.createdAt)); // no time sent: the acceptance time

    const score = await stack.db('user_event_scores').where({ user_id: userId, event_id: event.id }).first();
    const decayed =
      stack.config.weights.SAVE * epochScale(stack.config.model, new Date(save.occurredAt)) +
      stack.config.weights.VIEW * epochScale(stack.config.model, new Date(view.occurredAt));
    expect(score!.decayed).toBeCloseTo(decayed, 9);
  });

  test('POST /interactions takes occurredAt too, as it is, within the allowed age', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const post = (occurredAt: string) =>
      stack.request('POST', '/interactions', {
        token: stack.token({ sub: userId }),
        body: { eventId: event.id, action: 'VIEW', occurredAt },
      });
    const when = minutesAgo(90);
    expect((await post(when)).status).toBe(202);
    expect(await post(new Date(Date.now() - 8 * 86_400_000).toISOString())).toMatchObject({
      status: 400,
      body: { error: { code: 'occurred_at_out_of_range' } },
    });
    expect(await post(new Date(Date.now() + 10 * 60_000).toISOString())).toMatchObject({ status: 400 });
    expect(await post('2026-11-30T10:00:00')).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } }); // no offset
    await waitForInteractions(stack.db, userId, 1);
    await sleep(300);
    const rows = await rowsOf(stack, userId);
    expect(rows).toHaveLength(1);
    expect(new Date(rows[0]!.occurredAt).toISOString()).toBe(when);
  });
});

describe('POST /interactions/batch under limits and outages', () => {
  test('the rate limit counts items: those past it get 429 and the answer a Retry-After; with none left, the request is a 429', async () => {
    const stack = await startStack({ worker: false, env: { RATE_LIMIT_WRITES_PER_MINUTE: '5' } });
    try {
      const event = await buildEvent(stack.db);
      const token = stack.token({ sub: `user-${randomUUID()}` });
      const items = Array.from({ length: 8 }, () => ({ eventId: event.id, action: 'VIEW' }));
      const res = await stack.request('POST', '/interactions/batch', { token, body: { interactions: items } });
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([202, 202, 202, 202, 202, 429, 429, 429]);
      expect(res.body.results[5].error.code).toBe('rate_limited');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      const none = await stack.request('POST', '/interactions/batch', { token, body: { interactions: items.slice(0, 1) } });
      expect(none).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
      expect((await stack.request('POST', '/interactions', { token, body: items[0] })).status).toBe(429);
      // Refused before its body is read: a batch the service would refuse as too long, and one
      // whose body never ends, are answered 429 all the same.
      const tooLong = await stack.request('POST', '/interactions/batch', { token, body: { interactions: Array(501).fill(items[0]) } });
      expect(tooLong).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
      const stalled = await new Promise<number>((resolve, reject) => {
        const req = request(`${stack.baseUrl}/interactions/batch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': '100000' },
        });
        req.on('error', reject).on('response', (res) => resolve(res.statusCode!));
        req.write('{"interactions": [');
      });
      expect(stalled).toBe(429);
    } finally {
      await stack.stop();
    }
  });

  test('with Redis stalled, a 503 and none of the items is left behind to be recorded', async () => {
    const redis = await TestRedis.start();
    const stack = await startStack({ env: { REDIS_URL: redis.url, RATE_LIMIT_WRITES_PER_MINUTE: '0' } });
    try {
      const event = await buildEvent(stack.db);
      const userId = `user-${randomUUID()}`;
      redis.pause();
      const res = await stack.request('POST', '/interactions/batch', {
        token: stack.token({ sub: userId }),
        body: { interactions: Array.from({ length: 50 }, () => ({ eventId: event.id, action: 'VIEW' })) },
      });
      expect(res).toMatchObject({ status: 503, body: { error: { code: 'service_unavailable' } } });
      redis.resume();
      await sleep(2000);
      expect(await interactionsOf(stack.db, userId)).toHaveLength(0);
    } finally {
      redis.resume();
      await stack.stop();
      await redis.stop();
    }
  });
});
