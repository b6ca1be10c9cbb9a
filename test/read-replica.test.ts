import { randomUUID } from 'node:crypto';
import { createDb, ensureDatabase, migrateLatest, type Db } from '../src/data/db';
import { replicaCaughtUp } from '../src/data/feed';
import { warnIfNotReplica } from '../src/health';
import type { Logger } from '../src/logger';
import { InteractionModel } from '../src/data/models';
import { buildEvent } from './helpers/factories';
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
    expect(await firstPage(userId)).toContain(event.id);
  });

  test('a ranking read from a replica that lags is kept for paging but not made ready; once it has caught up, it is', async () => {
    for (let i = 0; i < 3; i += 1) await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const counted = async (): Promise<[number, number]> => [
      await stack.counted('feedFirstPages', 'afresh'),
      await stack.counted('feedFirstPages', 'ahead'),
    ];
    await waitFor('the replica to catch up', () => replicaCaughtUp(stack.db, replicaDb));

    await replicaDb.raw('select pg_wal_replay_pause()');
    let page;
    try {
      await buildEvent(stack.db); // a commit the replica has not replayed
      const [afresh, ahead] = await counted();
      page = await stack.request('GET', '/recommendations?limit=1', { token: stack.token({ sub: userId }) });
      await firstPage(userId);
      expect(await counted()).toEqual([afresh + 2, ahead]);
    } finally {
      await replicaDb.raw('select pg_wal_replay_resume()');
    }
    const next = await stack.request('GET', `/recommendations?limit=1&cursor=${page.body.nextCursor}`, {
      token: stack.token({ sub: userId }),
    });
    expect(next.status).toBe(200);

    // Caught up, a first page's ranking is ready for the next one. (The primary writes a record of
    // its own now and then, which can make one ranking miss; hence a few tries.)
    await waitFor('a first page from the ranking of the one before', async () => {
      await firstPage(userId);
      const [, ahead] = await counted();
      await firstPage(userId);
      return (await counted())[1] === ahead + 1;
    });
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
