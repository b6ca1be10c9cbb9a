import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config';
import { warnAboutRedisPolicy } from '../src/ops/health';
import { createProducer } from '../src/jobs/producer';
import { createLogger } from '../src/ops/logger';
import { buildEvent } from './helpers/factories';
import { interactionsOf, waitForInteractions } from './helpers/db';
import { sparePort, TestRedis } from './helpers/redis-server';
import { startService } from './helpers/service';
import { startStack, type Stack } from './helpers/stack';
import { sleep, waitFor } from './helpers/wait';

async function expectUnavailableQuickly(stack: Stack, eventId: string) {
  const started = Date.now();
  const res = await stack.request('POST', '/interactions', { body: { eventId, action: 'VIEW' } });
  const took = Date.now() - started;
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: { code: 'service_unavailable', message: expect.any(String) } });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(took).toBeLessThan(2000); // the contract: never hang on a dead Redis
}

describe('when Redis is unreachable', () => {
  test('from start-up, POST /interactions answers 503 with Retry-After, and /readyz says so', async () => {
    const stack = await startStack({ worker: false, env: { REDIS_URL: `redis://127.0.0.1:${await sparePort()}` } });
    try {
      const event = await buildEvent(stack.db);
      await expectUnavailableQuickly(stack, event.id);
      const ready = await stack.request('GET', '/readyz', { token: null });
      expect(ready).toMatchObject({ status: 503, body: { redis: false, database: true } });
    } finally {
      await stack.stop();
    }
  });

  test('after a crash, it answers 503, then recovers by itself, and the worker resumes', async () => {
    const redis = await TestRedis.start();
    const stack = await startStack({ env: { REDIS_URL: redis.url } });
    try {
      const event = await buildEvent(stack.db);
      const userId = `user-${randomUUID()}`;
      const post = () =>
        stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId: event.id, action: 'VIEW' } });
      expect((await post()).status).toBe(202);
      await waitForInteractions(stack.db, userId, 1);

      await redis.kill();
      await expectUnavailableQuickly(stack, event.id);

      await redis.restart();
      const accepted = await waitFor('the API to accept again', async () => {
        const res = await post();
        return res.status === 202 ? res : undefined;
      });
      const rows = await waitForInteractions(stack.db, userId, 2);
      expect(rows.map((r) => r.id)).toContain(accepted.body.id);
    } finally {
      await stack.stop();
      await redis.stop();
    }
  });

  test('a 503 from a stalled Redis leaves no job behind once Redis carries on', async () => {
    const redis = await TestRedis.start();
    const stack = await startStack({ env: { REDIS_URL: redis.url } });
    try {
      const event = await buildEvent(stack.db);
      const userId = `user-${randomUUID()}`;
      redis.pause();
      const res = await stack.request('POST', '/interactions', {
        token: stack.token({ sub: userId }),
        body: { eventId: event.id, action: 'VIEW' },
      });
      expect(res.status).toBe(503);
      redis.resume();

      // The add and its withdrawal both reach Redis after the resume; nothing may be left to persist.
      await sleep(1500);
      const counts = await stack.producer.queue.getJobCounts();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
      expect(await interactionsOf(stack.db, userId)).toHaveLength(0);
    } finally {
      redis.resume();
      await stack.stop();
      await redis.stop();
    }
  });

  test('with the rate limits on and Redis stalled, every request is answered within its one deadline, and nothing is left behind', async () => {
    const redis = await TestRedis.start();
    const limits = { RATE_LIMIT_WRITES_PER_MINUTE: '600', RATE_LIMIT_READS_PER_MINUTE: '1200' };
    const stack = await startStack({ ownDatabase: true, worker: false, env: { REDIS_URL: redis.url, ...limits } });
    try {
      const [event, gig] = [await buildEvent(stack.db), await buildEvent(stack.db, { kind: 'gig' })];
      const userId = `user-${randomUUID()}`;
      const token = stack.token({ sub: userId });
      const timed = async (method: string, path: string, body?: unknown) => {
        const started = Date.now();
        const res = await stack.request(method, path, { token, body });
        return { status: res.status, took: Date.now() - started, retryAfter: res.headers.get('retry-after') };
      };
      expect((await timed('POST', '/interactions', { eventId: event.id, action: 'VIEW' })).status).toBe(202);

      redis.pause();
      const answers = {
        interaction: await timed('POST', '/interactions', { eventId: event.id, action: 'DISMISS' }),
        feed: await timed('GET', '/recommendations'),
        application: await timed('POST', `/gigs/${gig.id}/applications`),
        collections: await timed('GET', '/collections'),
      };
      redis.resume();

      expect(answers.interaction).toMatchObject({ status: 503, retryAfter: '1' });
      expect(answers.feed).toMatchObject({ status: 503, retryAfter: '1' });
      expect(answers.application.status).toBe(201); // the outbox carries its APPLY; hiding the gig is best effort
      expect(answers.collections.status).toBe(200); // needs no Redis: the limit lets it through
      for (const answer of Object.values(answers)) expect(answer.took).toBeLessThan(2000);

      await sleep(1500);
      const queued = await stack.producer.queue.getJobs(['waiting', 'delayed', 'prioritized']);
      expect(queued.flatMap((job) => job.data.interactions ?? [job.data]).filter((i) => i.action === 'DISMISS')).toEqual([]);
    } finally {
      redis.resume();
      await stack.stop();
      await redis.stop();
    }
  });

  test('when Redis comes up after the API started, the API starts accepting', async () => {
    const port = await sparePort();
    const stack = await startStack({ worker: false, env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    let redis: TestRedis | undefined;
    try {
      const event = await buildEvent(stack.db);
      await expectUnavailableQuickly(stack, event.id);
      redis = await TestRedis.startOn(port);
      await waitFor('the API to accept', async () => {
        const res = await stack.request('POST', '/interactions', { body: { eventId: event.id, action: 'VIEW' } });
        return res.status === 202;
      });
    } finally {
      await stack.stop();
      await redis?.stop();
    }
  });
});

describe('readiness', () => {
  test('is false while Redis is full and refuses writes (it still answers pings), and true again once it has room', async () => {
    const redis = await TestRedis.start(['--maxmemory-policy', 'noeviction']);
    const stack = await startStack({ worker: false, env: { REDIS_URL: redis.url } });
    const admin = new Redis(redis.url);
    try {
      await waitFor('ready', async () => (await stack.request('GET', '/readyz', { token: null })).status === 200);
      const event = await buildEvent(stack.db);
      // Full: holding far more than its limit, with nothing it may evict.
      for (let i = 0; i < 50; i += 1) await admin.set(`filler:${i}`, 'x'.repeat(100_000));
      await admin.config('SET', 'maxmemory', '1mb');
      expect(await admin.set('one-more', 'x').catch((error: Error) => error.message)).toMatch(/OOM/);
      expect(await admin.ping()).toBe('PONG');
      await sleep(1100); // readiness is checked at most once a second
      expect(await stack.request('GET', '/readyz', { token: null })).toMatchObject({ status: 503, body: { redis: false, database: true } });
      expect((await stack.request('POST', '/interactions', { body: { eventId: event.id, action: 'VIEW' } })).status).toBe(503);

      await admin.config('SET', 'maxmemory', '0');
      await sleep(1100);
      expect((await stack.request('GET', '/readyz', { token: null })).status).toBe(200);
    } finally {
      admin.disconnect();
      await stack.stop();
      await redis.stop();
    }
  });

  test('is checked at most once a second, however often it is asked', async () => {
    const redis = await TestRedis.start();
    const stack = await startStack({ worker: false, env: { REDIS_URL: redis.url } });
    const probe = new Redis(redis.url);
    try {
      const writes = async () => Number(/cmdstat_set:calls=(\d+)/.exec(await probe.info('commandstats'))?.[1] ?? 0);
      await stack.request('GET', '/readyz', { token: null });
      await sleep(1100);
      const before = await writes();
      const answers = await Promise.all(Array.from({ length: 50 }, () => stack.request('GET', '/readyz', { token: null })));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect((await writes()) - before).toBeLessThanOrEqual(2);
    } finally {
      probe.disconnect();
      await stack.stop();
      await redis.stop();
    }
  });
});

describe('when PostgreSQL is unreachable', () => {
  test('POST /interactions answers 503 with Retry-After, never a 500, and queues nothing', async () => {
    const stack = await startStack({ worker: false, env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${await sparePort()}/nowhere` } });
    try {
      const res = await stack.request('POST', '/interactions', { body: { eventId: randomUUID(), action: 'VIEW' } });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: { code: 'service_unavailable', message: expect.any(String) } });
      expect(res.headers.get('retry-after')).toBe('2');
      const counts = await stack.producer.queue.getJobCounts();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    } finally {
      await stack.stop();
    }
  });
});

describe('Redis settings that endanger the queue', () => {
  test('are reported at start-up: an eviction policy other than noeviction, no AOF, an AOF not synced on every write', async () => {
    const redis = await TestRedis.start(['--maxmemory-policy', 'allkeys-lru']);
    const producer = createProducer(loadConfig({ ...process.env, REDIS_URL: redis.url }), createLogger({ level: 'silent', name: 'test' }));
    try {
      await producer.queue.waitUntilReady();
      const logged: unknown[][] = [];
      const logger = { error: (...args: unknown[]) => logged.push(args), warn: (...args: unknown[]) => logged.push(args) };
      const warnings = async () => {
        logged.length = 0;
        await warnAboutRedisPolicy(producer, logger as never);
        return logged;
      };
      expect(await warnings()).toEqual([
        [{ policy: 'allkeys-lru' }, expect.stringMatching(/may be evicted and lost; set it to noeviction/)],
        [{ appendonly: 'no' }, expect.stringMatching(/restart loses the interactions still queued/)],
      ]);

      await producer.connection.config('SET', 'maxmemory-policy', 'noeviction');
      await producer.connection.config('SET', 'appendonly', 'yes');
      expect(await warnings()).toEqual([[{ appendfsync: 'everysec' }, expect.stringMatching(/power cut loses the interactions accepted/)]]);

      await producer.connection.config('SET', 'appendfsync', 'always');
      expect(await warnings()).toEqual([]);
    } finally {
      await producer.close();
      await redis.stop();
    }
  });
});

describe('the log during an outage', () => {
  test('says when it began and when it ended, with counts, not a line with a stack per refused request', async () => {
    const redis = await TestRedis.start();
    const service = await startService({ redisUrl: redis.url, env: { LOG_LEVEL: 'info' } });
    try {
      const web = await service.start('web');
      const event = await buildEvent(service.db);
      const post = () =>
        fetch(`${service.webUrl}/interactions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${service.token('user-outage')}`, 'content-type': 'application/json' },
          body: JSON.stringify({ eventId: event.id, action: 'VIEW' }),
        });
      expect((await post()).status).toBe(202);

      await redis.kill();
      for (let round = 0; round < 15; round += 1) {
        const answers = await Promise.all(Array.from({ length: 20 }, post));
        expect(answers.every((a) => a.status === 503)).toBe(true);
      }
      await redis.restart();
      await waitFor('the API to accept again', async () => (await post()).status === 202);
      await waitFor('the end of the outage in the log', async () => /outage over/.test(web.output()));

      const lines = web.logLines() as { msg: string; failures?: number; err?: unknown; level: number }[];
      const outage = lines.filter((l) => /outage/.test(l.msg));
      expect(outage.filter((l) => /outage began/.test(l.msg)).length).toBeLessThanOrEqual(2);
      expect(outage.find((l) => /the queue \(Redis\): outage over/.test(l.msg))?.failures).toBeGreaterThanOrEqual(300);
      expect(lines.filter((l) => /request failed|enqueue failed/.test(l.msg))).toEqual([]);
      // Beside the access log (info): the outage's own lines and the connection's (once per 10 s), no errors.
      expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
      expect(lines.filter((l) => l.level >= 40).length).toBeLessThan(10);
    } finally {
      await service.stop();
      await redis.stop();
    }
  });
});
