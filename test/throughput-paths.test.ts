import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { cachedEventExists } from '../src/data/events';
import type { RecordInteractionPayload } from '../src/jobs/definitions';
import { InteractionWriter } from '../src/jobs/interaction-writer';
import { buildEvent } from './helpers/factories';
import { interactionsOf, scoreOf } from './helpers/db';
import { startStack, type Stack } from './helpers/stack';
import { TestRedis } from './helpers/redis-server';
import { sleep, waitFor } from './helpers/wait';

describe('group commit: requests that arrive together share one job', () => {
  let stack: Stack;
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
    stack = await startStack({ worker: false, env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await stack.stop();
    await redis.stop();
  });

  test('while a job is on its way to Redis, the requests arriving meanwhile go together in the next; each 202 comes once its job is stored', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const post = () =>
      stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId: event.id, action: 'VIEW' } });
    const warmUp = await post(); // the event is now known: the requests below need only Redis
    expect(warmUp.status).toBe(202);

    // A slow Redis: the first job is held up, and 30 more requests arrive meanwhile.
    await redis.pause();
    let answered = 0;
    const counted = (r: Awaited<ReturnType<typeof post>>) => {
      answered += 1;
      return r;
    };
    const first = post().then(counted);
    await sleep(100);
    const rest = Array.from({ length: 30 }, () => post().then(counted));
    await sleep(300);
    expect(answered).toBe(0); // nothing is acknowledged before Redis has it
    await redis.resume();
    const answers = await Promise.all([first, ...rest]);

    expect(answers.map((a) => a.status)).toEqual(Array(31).fill(202));
    const jobs = (await stack.producer.queue.getWaiting()).filter((job) =>
      job.data.interactions?.some((i: RecordInteractionPayload) => i.userId === userId),
    );
    const carried = jobs.flatMap((job) => job.data.interactions.map((i: RecordInteractionPayload) => i.id));
    expect(carried.sort()).toEqual([warmUp, ...answers].map((a) => a.body.id).sort()); // every 202 in Redis, once
    expect(jobs.length).toBeLessThan(answers.length / 2);
  });
});

describe('the event check', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.stop());

  test('remembers an event it found, for the time to live only', async () => {
    const event = await buildEvent(stack.db);
    const exists = cachedEventExists(stack.db, 300);
    expect(await exists(event.id)).toBe(true);

    await stack.db('events').where({ id: event.id }).delete();
    expect(await exists(event.id)).toBe(true); // no query: taken from memory
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await exists(event.id)).toBe(false);
  });

  test('asks the database once for the events of one turn, and confirms those in use together before they expire', async () => {
    const events = await Promise.all(Array.from({ length: 20 }, () => buildEvent(stack.db)));
    const queries: string[] = [];
    const count = (query: { sql: string }) => void (/^select .* from "events"/.test(query.sql) && queries.push(query.sql));
    stack.db.on('query', count);
    try {
      const exists = cachedEventExists(stack.db, 1000);
      const missing = randomUUID();
      const answers = await Promise.all([...events.map((e) => exists(e.id)), exists(missing)]);
      expect(answers).toEqual([...events.map(() => true), false]);
      expect(queries).toHaveLength(1);

      // Asked for all along, the events stay remembered: one query per 500 ms confirms all of them
      // again, and none is asked for on its own.
      await stack.db('events').where({ id: events[0]!.id }).delete();
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        await Promise.all(events.slice(1).map((e) => exists(e.id)));
        await sleep(20);
      }
      expect(queries.length).toBeGreaterThanOrEqual(3);
      expect(queries.length).toBeLessThanOrEqual(1 + 2000 / 500 + 2);
      expect(await exists(events[0]!.id)).toBe(false); // confirmed again: found gone
    } finally {
      stack.db.off('query', count);
    }
  });

  test('preloaded, the events around now are known without a query; one that started long ago is asked for', async () => {
    const upcoming = await Promise.all(Array.from({ length: 5 }, () => buildEvent(stack.db)));
    const old = await buildEvent(stack.db, { startsAt: new Date(Date.now() - 7 * 86_400_000) });
    const exists = cachedEventExists(stack.db, 60_000);
    expect(await exists.preload!()).toBeGreaterThanOrEqual(upcoming.length);

    const queries: string[] = [];
    const count = (query: { sql: string }) => void (/from "events"/.test(query.sql) && queries.push(query.sql));
    stack.db.on('query', count);
    try {
      expect(await Promise.all(upcoming.map((e) => exists(e.id)))).toEqual(upcoming.map(() => true));
      expect(queries).toHaveLength(0);
      expect(await exists(old.id)).toBe(true);
      expect(queries).toHaveLength(1);
    } finally {
      stack.db.off('query', count);
    }
  });

  test('never remembers a missing event: one created a moment later is found at once', async () => {
    const exists = cachedEventExists(stack.db, 60_000);
    const id = randomUUID();
    expect(await exists(id)).toBe(false);

    await buildEvent(stack.db, {}).then((e) => stack.db('events').where({ id: e.id }).update({ id }));
    expect(await exists(id)).toBe(true);
  });
});

describe('the worker writer', () => {
  const payload = (userId: string): RecordInteractionPayload => ({
    id: uuidv7(),
    userId,
    eventId: randomUUID(),
    action: 'VIEW',
    source: 'api',
    acceptedAt: '2026-11-25T10:00:00.000000Z',
  });

  test('writes the jobs in hand in few transactions, and no two transactions at once share a user', async () => {
    const calls: RecordInteractionPayload[][] = [];
    let running: RecordInteractionPayload[][] = [];
    const writer = new InteractionWriter(async (payloads) => {
      calls.push(payloads);
      for (const other of running) {
        const users = new Set(other.map((p) => p.userId));
        expect(payloads.some((p) => users.has(p.userId))).toBe(false);
      }
      running.push(payloads);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running = running.filter((r) => r !== payloads);
      return new Set(payloads.map((p) => p.id));
    }, 2);

    const jobs = Array.from({ length: 30 }, (_, j) => Array.from({ length: 5 }, (_, i) => payload(`user-${(i * 7 + j) % 12}`)));
    const results = await Promise.all(jobs.map((job) => writer.write(job)));

    expect(results).toEqual(Array(30).fill({ inserted: 5, duplicates: 0 }));
    expect(
      calls
        .flat()
        .map((p) => p.id)
        .sort(),
    ).toEqual(
      jobs
        .flat()
        .map((p) => p.id)
        .sort(),
    );
    expect(calls.length).toBeLessThanOrEqual(6);
  });

  test("one job's failure does not fail the jobs it shared a transaction with", async () => {
    const poison = payload('user-1');
    const writer = new InteractionWriter(async (payloads) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (payloads.includes(poison)) throw Object.assign(new Error('invalid byte sequence'), { code: '22021' });
      return new Set(payloads.map((p) => p.id));
    }, 1);

    const outcomes = await Promise.allSettled([
      writer.write([payload('user-2')]),
      writer.write([poison]),
      writer.write([payload('user-3')]),
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});

describe('the worker through the writer', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  test('many users at once: every row once, every score complete', async () => {
    const event = await buildEvent(stack.db);
    const users = Array.from({ length: 12 }, () => `user-${randomUUID()}`);
    const sends = users.flatMap((userId) =>
      ['VIEW', 'SAVE', 'CLICK'].map((action) =>
        stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId: event.id, action } }),
      ),
    );
    expect((await Promise.all(sends)).every((r) => r.status === 202)).toBe(true);

    for (const userId of users) {
      await waitFor(`${userId}'s rows`, async () => (await interactionsOf(stack.db, userId)).length === 3);
      expect(await scoreOf(stack.db, userId, event.id)).toMatchObject({ score: 1 + 5 + 3, interactionCount: 3 });
    }
  });
});
