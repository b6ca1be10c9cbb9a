import { loadConfig } from '../../src/config';
import { buildEvent } from '../helpers/factories';
import { makeUsers } from '../helpers/load';
import { expectModelToEqualRebuild } from '../helpers/model';
import { TestPostgres } from '../helpers/postgres-server';
import { expectRowsToBe, startService, waitUntilDrained, type Service } from '../helpers/service';
import { sleep, waitFor } from '../helpers/wait';

const OUTAGE_MS = 15_000;

describe('PostgreSQL stopped for 15 s under load', () => {
  let pg: TestPostgres;
  let service: Service;
  let web: Awaited<ReturnType<Service['start']>>;
  let worker: Awaited<ReturnType<Service['start']>>;
  beforeAll(async () => {
    pg = await TestPostgres.start();
    // Events known to exist stay so for 10 s: long enough to see 202s after the stop whatever it takes.
    service = await startService({ databaseUrl: pg.url, env: { WORKER_LOCK_MS: '2000', EVENT_CACHE_TTL_MS: '10000' } });
    web = await service.start('web');
    worker = await service.start('worker', { LOG_LEVEL: 'info' });
  }, 120_000);
  afterAll(async () => {
    await service?.stop();
    await pg?.destroy();
  });

  test('the API answers 202 (events cached) or 503, never 500; jobs back off and all land once it is back, none failed', async () => {
    const events = await Promise.all(Array.from({ length: 10 }, () => buildEvent(service.db)));
    const load = service.load({ users: makeUsers(50, service.token), eventIds: events.map((e) => e.id), clients: 16 });
    const more = async (what: string) => {
      const before = load.accepted.size;
      await waitFor(`the API to accept ${what}`, async () => load.accepted.size >= before + 800, 60_000);
    };

    await more('interactions');
    await pg.stopServer();
    const down = Date.now();
    await sleep(OUTAGE_MS);
    const up = Date.now();
    await pg.startServer();
    await more('again with PostgreSQL back');
    await load.stop();

    const { '202': ok, '503': unavailable, ...others } = load.attempts;
    expect(others).toEqual({});
    expect(unavailable).toBeGreaterThan(0); // once the cached events expired
    expect([...load.accepted.values()].filter(({ at }) => at > down && at < up).length).toBeGreaterThan(0); // before they did
    expect(ok).toBe(load.accepted.size);
    expect(load.abandoned).toBe(0);

    await waitUntilDrained(service, 120_000);
    expect(await service.queue.getFailedCount()).toBe(0);
    const retried = (await service.queue.getCompleted(0, -1)).filter((job) => job.attemptsMade > 1);
    expect(retried.length).toBeGreaterThan(0);
    await expectRowsToBe(service, load.accepted.keys());
    await expectModelToEqualRebuild(service.db, loadConfig(service.env).model);

    // The worker's background loops failed every second or so meanwhile: each logs the outage by its
    // changes of state, not a warning per failed round.
    const lines = worker.logLines() as { msg?: string; failures?: number }[];
    for (const loop of ['co-occurrence fold', 'outbox relay']) {
      const own = lines.filter((l) => l.msg?.startsWith(loop)).map((l) => l.msg!.slice(loop.length));
      expect({ loop, lines: own }).toEqual({ loop, lines: [': outage began', ': outage over'] });
      expect(lines.find((l) => l.msg === `${loop}: outage over`)!.failures).toBeGreaterThan(2);
    }
    // knex warns on every query that finds no connection: at most one such line per 10 s gets through.
    for (const process of [web, worker]) {
      const knex = (process.logLines() as { knex?: unknown; omitted?: number }[]).filter((l) => l.knex !== undefined);
      expect(knex.length).toBeGreaterThan(0);
      expect(knex.length).toBeLessThanOrEqual(Math.ceil(OUTAGE_MS / 10_000) + 1);
    }
    console.info(
      `PostgreSQL down 15 s: ${load.accepted.size} accepted, attempts ${JSON.stringify(load.attempts)}; ${retried.length} jobs retried; 0 failed, 0 lost`,
    );
  }, 300_000);
});

describe('PostgreSQL stalled: neither answering nor refusing', () => {
  let pg: TestPostgres;
  let service: Service;
  beforeAll(async () => {
    pg = await TestPostgres.start();
    // Every event check asks the database.
    service = await startService({ databaseUrl: pg.url, env: { EVENT_CACHE_TTL_MS: '0' } });
    await service.start('web');
  }, 120_000);
  afterAll(async () => {
    pg?.resume();
    await service?.stop();
    await pg?.destroy();
  });

  test('an interaction is answered 503 with Retry-After, not held until the database is back', async () => {
    const event = await buildEvent(service.db);
    const post = (path: string, body: unknown) =>
      fetch(`${service.webUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${service.token('stalled-user')}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000), // long past the API's deadline: a request held this long fails the test
      });
    const one = { eventId: event.id, action: 'VIEW' };
    expect((await post('/interactions', one)).status).toBe(202);

    pg.pause();
    try {
      for (const [path, body] of [
        ['/interactions', one],
        ['/interactions/batch', { interactions: [one] }],
      ] as const) {
        const res = await post(path, body);
        expect({ path, status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() }).toEqual({
          path,
          status: 503,
          retryAfter: '2',
          body: { error: { code: 'service_unavailable', message: expect.any(String) } },
        });
      }
    } finally {
      pg.resume();
    }
    await waitFor('the API to accept again', async () => (await post('/interactions', one)).status === 202, 30_000);
  }, 120_000);

  test('reads of events, collections and applications are answered 503 by their deadline', async () => {
    const event = await buildEvent(service.db, { kind: 'gig' });
    const get = (path: string) =>
      fetch(`${service.webUrl}${path}`, {
        headers: { authorization: `Bearer ${service.token('stalled-reader')}` },
        signal: AbortSignal.timeout(30_000),
      });
    const paths = [`/events/${event.id}`, '/collections', `/gigs/${event.id}/applications/me`];
    expect(await Promise.all(paths.map(async (path) => (await get(path)).status))).toEqual([200, 200, 404]);

    pg.pause();
    try {
      for (const path of paths) {
        const res = await get(path);
        expect({ path, status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() }).toEqual({
          path,
          status: 503,
          retryAfter: '2',
          body: { error: { code: 'service_unavailable', message: 'The database is unavailable; retry shortly' } },
        });
      }
    } finally {
      pg.resume();
    }
    await waitFor('reads to be answered again', async () => (await get(paths[0]!)).status === 200, 30_000);
  }, 120_000);
});
