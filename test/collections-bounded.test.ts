import { randomUUID } from 'node:crypto';
import { insertCollection, lockUserCollections } from '../src/data/collections';
import { buildEvent } from './helpers/factories';
import { sleep } from './helpers/wait';
import { startStack, type Stack } from './helpers/stack';

/** Whatever a user has accumulated, one request does bounded work: pages, and limits on what they keep. */
describe('collections, bounded per request', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Its own database: other stacks' relays would move the SAVEs this test counts in the outbox.
    stack = await startStack({
      ownDatabase: true,
      worker: false,
      relay: false,
      env: { COLLECTIONS_PER_USER_MAX: '30', COLLECTION_EVENTS_PER_USER_MAX: '120' },
    });
  });
  afterAll(() => stack.stop());

  const as = (userId: string) => ({
    post: (path: string, body: unknown = {}) => stack.request('POST', path, { token: stack.token({ sub: userId }), body }),
    get: (path: string) => stack.request('GET', path, { token: stack.token({ sub: userId }) }),
  });
  const newUser = () => `user-${randomUUID()}`;

  /** `count` events in the collection, added one second apart (oldest first), straight into the table. */
  async function fill(collectionId: string, count: number): Promise<string[]> {
    const events = [];
    for (let i = 0; i < count; i += 1) events.push(await buildEvent(stack.db));
    const base = Date.now() - count * 1000;
    await stack
      .db('collection_events')
      .insert(events.map((event, i) => ({ collection_id: collectionId, event_id: event.id, added_at: new Date(base + i * 1000) })));
    return events.map((event) => event.id);
  }

  test('GET /collections pages the collections, oldest first, each with its count and latest 100 event ids', async () => {
    const user = as(newUser());
    const created: string[] = [];
    for (let i = 0; i < 23; i += 1) created.push((await user.post('/collections', { name: `c${i}` })).body.id);
    const added = await fill(created[0]!, 105);

    const first = await user.get('/collections');
    expect(first.status).toBe(200);
    expect(first.body.items.map((c: { id: string }) => c.id)).toEqual(created.slice(0, 20));
    expect(first.body.items[0]).toMatchObject({ name: 'c0', eventCount: 105, eventIds: added.slice(5) });
    expect(first.body.items[1]).toMatchObject({ eventCount: 0, eventIds: [] });
    expect(first.body.nextCursor).toEqual(expect.any(String));

    const second = await user.get(`/collections?cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((c: { id: string }) => c.id)).toEqual(created.slice(20));
    expect(second.body.nextCursor).toBeNull();

    const small = await user.get('/collections?limit=5');
    expect(small.body.items).toHaveLength(5);
    expect((await user.get(`/collections/${created[0]}`)).body).toMatchObject({ eventCount: 105, eventIds: added.slice(5) });
  });

  test("a collection created by a transaction that waited for the user's lock is keyed after those committed first: paging never passes it", async () => {
    const userId = newUser();
    const user = as(userId);
    const c1 = (await user.post('/collections', { name: 'first' })).body.id;
    // A transaction that has begun (now() is fixed from here), and is slow to take the lock.
    const late = await stack.db.transaction();
    try {
      await late.raw('select now()');
      await sleep(20);
      const c2 = (await user.post('/collections', { name: 'second' })).body.id;
      const c3 = (await user.post('/collections', { name: 'third' })).body.id;
      // A client pages, one at a time, past the second collection...
      const page1 = await user.get('/collections?limit=1');
      const page2 = await user.get(`/collections?limit=1&cursor=${page1.body.nextCursor}`);
      expect(page2.body.items.map((c: { id: string }) => c.id)).toEqual([c2]);
      // ...while the waiting transaction writes its collection under the lock and commits.
      await lockUserCollections(late, userId);
      const c4 = (await insertCollection(late, userId, 'fourth')).id;
      await late.commit();
      const rest: string[] = [];
      for (let cursor = page2.body.nextCursor; cursor;) {
        const page = await user.get(`/collections?limit=1&cursor=${cursor}`);
        rest.push(...page.body.items.map((c: { id: string }) => c.id));
        cursor = page.body.nextCursor;
      }
      expect(rest).toEqual([c3, c4]);
      expect((await user.get('/collections')).body.items.map((c: { id: string }) => c.id)).toEqual([c1, c2, c3, c4]);
    } finally {
      if (!late.isCompleted()) await late.rollback();
    }
  });

  test('GET /collections/:id/events pages every event of a collection, newest first, without repeats or gaps', async () => {
    const user = as(newUser());
    const { body: collection } = await user.post('/collections', { name: 'Big' });
    const added = await fill(collection.id, 105);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await user.get(`/collections/${collection.id}/events?limit=40${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      for (const item of res.body.items) {
        expect(item).toEqual({ eventId: expect.any(String), addedAt: expect.any(String) });
        seen.push(item.eventId);
      }
      cursor = res.body.nextCursor;
      pages += 1;
    } while (cursor);

    expect(pages).toBe(3);
    expect(seen).toEqual([...added].reverse());
    const empty = await user.post('/collections', { name: 'Empty' });
    expect((await user.get(`/collections/${empty.body.id}/events`)).body).toEqual({ items: [], nextCursor: null });
  });

  test('a bad limit or cursor is a 400 naming it', async () => {
    const user = as(newUser());
    const { body: collection } = await user.post('/collections', { name: 'Any' });
    const cases = await Promise.all([
      user.get('/collections?limit=0'),
      user.get('/collections?limit=101'),
      user.get('/collections?limit=ten'),
      user.get('/collections?cursor=bm90LWEtY3Vyc29y'),
      user.get(`/collections/${collection.id}/events?cursor=%%%`),
      user.get(`/collections/${collection.id}/events?limit=1&limit=2`),
    ]);
    expect(cases.map((c) => [c.status, c.body.error.code])).toEqual([
      [400, 'validation_failed'],
      [400, 'validation_failed'],
      [400, 'validation_failed'],
      [400, 'invalid_cursor'],
      [400, 'invalid_cursor'],
      [400, 'validation_failed'],
    ]);
  });

  test('past COLLECTIONS_PER_USER_MAX, creating a collection is a 409 limit_reached', async () => {
    const user = as(newUser());
    const statuses = [];
    for (let i = 0; i < 31; i += 1) statuses.push((await user.post('/collections', { name: `c${i}` })).status);
    expect(statuses.slice(0, 30).every((s) => s === 201)).toBe(true);
    const refused = await user.post('/collections', { name: 'one too many' });
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'limit_reached', message: expect.stringContaining('30') } } });
    expect((await as(newUser()).post('/collections', { name: 'another user' })).status).toBe(201);
  });

  test('past COLLECTION_EVENTS_PER_USER_MAX across collections, adding is a 409 limit_reached and records no SAVE', async () => {
    const userId = newUser();
    const user = as(userId);
    const [a, b] = [(await user.post('/collections', { name: 'a' })).body, (await user.post('/collections', { name: 'b' })).body];
    await fill(a.id, 70);
    await fill(b.id, 49);
    const [last, over] = [await buildEvent(stack.db), await buildEvent(stack.db)];

    expect((await user.post(`/collections/${b.id}/events`, { eventId: last.id })).status).toBe(201);
    const refused = await user.post(`/collections/${a.id}/events`, { eventId: over.id });

    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'limit_reached', message: expect.stringContaining('120') } } });
    expect((await user.get(`/collections/${a.id}`)).body.eventCount).toBe(70);
    const outbox = await stack.db('outbox').whereRaw("payload->'interactions'->0->>'userId' = ?", [userId]);
    expect(outbox.map((row: { payload: { interactions: { eventId: string }[] } }) => row.payload.interactions[0]!.eventId)).toEqual([
      last.id,
    ]);
    // Adding what is already there says so, even at the limit.
    const again = await user.post(`/collections/${b.id}/events`, { eventId: last.id });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'already_in_collection' } } });
  });

  test('concurrent adds at the limit cannot overshoot it', async () => {
    const userId = newUser();
    const user = as(userId);
    const { body: collection } = await user.post('/collections', { name: 'race' });
    await fill(collection.id, 115);
    const events = await Promise.all(Array.from({ length: 12 }, () => buildEvent(stack.db)));

    const results = await Promise.all(events.map((event) => user.post(`/collections/${collection.id}/events`, { eventId: event.id })));

    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
    expect((await user.get(`/collections/${collection.id}`)).body.eventCount).toBe(120);
    expect(await stack.db('outbox').whereRaw("payload->'interactions'->0->>'userId' = ?", [userId])).toHaveLength(5);
  });
});
