import { randomUUID } from 'node:crypto';
import { createDb, ensureDatabase, migrateLatest, type Db } from '../src/data/db';
import { warnIfNotReplica } from '../src/ops/health';
import type { Logger } from '../src/ops/logger';
import { InteractionModel } from '../src/data/models';
import { buildEvent } from './helpers/factories';
import { interactThroughApi } from './helpers/interact';
import { TestPostgres } from './helpers/postgres-server';
import { startStack, type Stack } from './helpers/stack';
import { waitFor } from './helpers/wait';

/** The API with DATABASE_READ_URL on a streaming replica of its own PostgreSQL primary. */
describe('DATABASE_READ_URL: the feed reads from a replica', () => {
  let primary: TestPostgres;
  let replica: TestPostgres;
  let replicaDb: Db;
  let stack: Stack;

  beforeAll(async () => {
    primary = await TestPostgres.start();
    replica = await primary.startReplica();
    const databaseUrl = primary.url.replace(/\/postgres$/, '/interactions');
    await ensureDatabase(databaseUrl);
    const migrator = createDb({ databaseUrl, databasePoolMax: 1 });
    await migrateLatest(migrator).finally(() => migrator.destroy());
    const databaseReadUrl = replica.url.replace(/\/postgres$/, '/interactions');
    replicaDb = createDb({ databaseUrl: databaseReadUrl, databasePoolMax: 2 });
    // The replica replays the database's creation and the migrations a moment later.
    await waitFor('the replica to have the schema', () => replicaDb.schema.hasTable('interactions').catch(() => false));
    stack = await startStack({ env: { DATABASE_URL: databaseUrl, DATABASE_READ_URL: databaseReadUrl, EVENT_CACHE_TTL_MS: '0' } });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await replicaDb?.destroy();
    await replica?.destroy();
    await primary?.destroy();
  });

  const firstPage = async (userId: string) => {
    const res = await stack.request('GET', '/recommendations?limit=100', { token: stack.token({ sub: userId }) });
    expect(res.status).toBe(200);
    return (res.body.items as { eventId: string }[]).map((item) => item.eventId);
  };

  test('a first page shows what the replica has replayed, while interactions are written to the primary', async () => {
    await replicaDb.raw('select pg_wal_replay_pause()');
    const event = await buildEvent(stack.db, { startsAt: new Date(Date.now() + 60 * 60 * 1000) });
    const userId = `user-${randomUUID()}`;
    try {
      expect(await firstPage(userId)).not.toContain(event.id);
      // The API checks events against the primary, and the worker writes there.
      const res = await stack.request('POST', '/interactions', {
        token: stack.token({ sub: `user-${randomUUID()}` }),
        body: { eventId: event.id, action: 'VIEW' },
      });
      expect(res.status).toBe(202);
      await waitFor('the row on the primary', async () => InteractionModel.query(stack.db).findById(res.body.id));
    } finally {
      await replicaDb.raw('select pg_wal_replay_resume()');
    }
    await waitFor('the replica to replay it', () => replicaDb('events').where({ id: event.id }).first());
    // (The user's own stored ranking may keep serving them until FEED_RANKING_MAX_AGE_S: new events wait that long.)
    expect(await firstPage(`user-${randomUUID()}`)).toContain(event.id);
  });

  test('once the worker has stored an interaction, the next first page reflects it even while the replica lags: it is ranked on the primary', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const counted = async (): Promise<[number, number]> => [
      await stack.counted('feedFirstPages', 'afresh'),
      await stack.counted('feedFirstPages', 'ahead'),
    ];
    await waitFor('the replica to have the event', () => replicaDb('events').where({ id: event.id }).first());
    expect(await firstPage(userId)).toContain(event.id);

    await replicaDb.raw('select pg_wal_replay_pause()');
    try {
      const res = await stack.request('POST', '/interactions', {
        token: stack.token({ sub: userId }),
        body: { eventId: event.id, action: 'SAVE' },
      });
      await waitFor('the row on the primary', async () => InteractionModel.query(stack.db).findById(res.body.id));
      expect(await replicaDb('interactions').where({ id: res.body.id }).first()).toBeUndefined();

      const [afresh, ahead] = await counted();
      expect(await firstPage(userId)).not.toContain(event.id);
      expect(await firstPage(userId)).not.toContain(event.id); // the ranking made on the primary, stored and reused
      expect(await counted()).toEqual([afresh + 1, ahead + 1]);
    } finally {
      await replicaDb.raw('select pg_wal_replay_resume()');
    }
  });

  test('similar events of an event the replica has not replayed yet are asked of the primary, not a 404', async () => {
    await replicaDb.raw('select pg_wal_replay_pause()');
    try {
      const event = await buildEvent(stack.db, { startsAt: new Date(Date.now() + 60 * 60 * 1000) });
      expect(await replicaDb('events').where({ id: event.id }).first()).toBeUndefined();
      const res = await stack.request('GET', `/events/${event.id}/similar`, { token: stack.token() });
      expect({ status: res.status, items: res.body.items }).toEqual({ status: 200, items: expect.any(Array) });
      for (const id of [randomUUID(), 'not-an-id']) {
        const missing = await stack.request('GET', `/events/${id}/similar`, { token: stack.token() });
        expect({ id, status: missing.status }).toEqual({ id, status: 404 });
      }
    } finally {
      await replicaDb.raw('select pg_wal_replay_resume()');
    }
  });

  test('similar events leave out what the caller just interacted with while the replica lags: the primary says what they touched', async () => {
    const [source, next] = await Promise.all(
      [1, 2].map((h) => buildEvent(stack.db, { startsAt: new Date(Date.now() + h * 60 * 60 * 1000) })),
    );
    await interactThroughApi(stack, `user-${randomUUID()}`, [source!.id, 'SAVE'], [next!.id, 'SAVE']);
    const caller = `user-${randomUUID()}`;
    const similar = async () => {
      const res = await stack.request('GET', `/events/${source!.id}/similar?limit=50`, { token: stack.token({ sub: caller }) });
      expect(res.status).toBe(200);
      return (res.body.items as { eventId: string }[]).map((item) => item.eventId);
    };
    await waitFor('the replica to offer it', async () => (await similar()).includes(next!.id));

    await replicaDb.raw('select pg_wal_replay_pause()');
    try {
      await interactThroughApi(stack, caller, [next!.id, 'SAVE']);
      await waitFor('the score on the primary', () => stack.db('user_event_scores').where({ user_id: caller, event_id: next!.id }).first());
      expect(await replicaDb('user_event_scores').where({ user_id: caller }).first()).toBeUndefined();
      expect(await similar()).not.toContain(next!.id);
    } finally {
      await replicaDb.raw('select pg_wal_replay_resume()');
    }
  });

  test('the API warns at start when DATABASE_READ_URL is not a replica', async () => {
    const warnings: string[] = [];
    const logger = { warn: (message: string) => warnings.push(message) } as unknown as Logger;
    await warnIfNotReplica(replicaDb, logger);
    expect(warnings).toEqual([]);
    await warnIfNotReplica(stack.db, logger);
    expect(warnings).toEqual([expect.stringMatching(/DATABASE_READ_URL is not a streaming replica/)]);
  });

  test('with the replica down, the feed answers 503 and interactions are still accepted', async () => {
    const event = await buildEvent(stack.db);
    await replica.stopServer();
    const feed = await stack.request('GET', '/recommendations', { token: stack.token() });
    expect(feed).toMatchObject({ status: 503, body: { error: { code: 'service_unavailable' } } });
    const res = await stack.request('POST', '/interactions', { token: stack.token(), body: { eventId: event.id, action: 'VIEW' } });
    expect(res.status).toBe(202);
    expect((await stack.request('GET', '/readyz', { token: null })).status).toBe(200);
  });
});
