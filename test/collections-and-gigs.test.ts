import { randomUUID } from 'node:crypto';
import { buildEvent } from './helpers/factories';
import { interactionsOf, waitForInteractions } from './helpers/db';
import { startStack, type Stack } from './helpers/stack';
import { sleep } from './helpers/wait';

describe('collections and gig applications record SAVE and APPLY', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
  });
  afterAll(() => stack.stop());

  const as = (userId: string) => ({
    post: (path: string, body: unknown = {}) => stack.request('POST', path, { token: stack.token({ sub: userId }), body }),
    get: (path: string) => stack.request('GET', path, { token: stack.token({ sub: userId }) }),
    delete: (path: string) => stack.request('DELETE', path, { token: stack.token({ sub: userId }) }),
  });
  const newUser = () => `user-${randomUUID()}`;
  /** Nothing more may arrive: give the relay and the worker time to deliver a stray job. */
  const settle = () => sleep(700);

  describe('collections', () => {
    test("create, list and read one's own collections", async () => {
      const user = as(newUser());
      const created = await user.post('/collections', { name: 'Summer' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ id: expect.any(String), name: 'Summer', createdAt: expect.any(String) });

      expect((await user.get('/collections')).body).toEqual({
        items: [{ ...created.body, eventCount: 0, eventIds: [] }],
        nextCursor: null,
      });
      expect((await user.get(`/collections/${created.body.id}`)).body).toEqual({ ...created.body, eventCount: 0, eventIds: [] });
    });

    test('adding an event answers 201 and records one SAVE with source collection', async () => {
      const userId = newUser();
      const user = as(userId);
      const event = await buildEvent(stack.db);
      const { body: collection } = await user.post('/collections', { name: 'Later' });

      const res = await user.post(`/collections/${collection.id}/events`, { eventId: event.id });

      expect(res.status).toBe(201);
      expect(res.body).toEqual({ collectionId: collection.id, eventId: event.id, addedAt: expect.any(String) });
      const [row] = await waitForInteractions(stack.db, userId, 1);
      expect(row).toMatchObject({ userId, eventId: event.id, action: 'SAVE', source: 'collection' });
      expect((await user.get(`/collections/${collection.id}`)).body.eventIds).toEqual([event.id]);
    });

    test('explicit POST /interactions calls still add their own rows', async () => {
      const userId = newUser();
      const user = as(userId);
      const event = await buildEvent(stack.db);
      const { body: collection } = await user.post('/collections', { name: 'Both' });

      await user.post(`/collections/${collection.id}/events`, { eventId: event.id });
      await user.post('/interactions', { eventId: event.id, action: 'SAVE' });

      const rows = await waitForInteractions(stack.db, userId, 2);
      expect(rows.map((r) => r.source).sort()).toEqual(['api', 'collection']);
    });

    test('adding the same event twice is a 409 and records no second SAVE', async () => {
      const userId = newUser();
      const user = as(userId);
      const event = await buildEvent(stack.db);
      const { body: collection } = await user.post('/collections', { name: 'Twice' });
      await user.post(`/collections/${collection.id}/events`, { eventId: event.id });

      const again = await user.post(`/collections/${collection.id}/events`, { eventId: event.id });

      expect(again).toMatchObject({ status: 409, body: { error: { code: 'already_in_collection' } } });
      await waitForInteractions(stack.db, userId, 1);
      await settle();
      expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
    });

    test("an unknown event, or a collection that is not the user's, is a 404 and records nothing", async () => {
      const ownerId = newUser();
      const intruderId = newUser();
      const event = await buildEvent(stack.db);
      const { body: collection } = await as(ownerId).post('/collections', { name: 'Mine' });

      const cases = [
        await as(ownerId).post(`/collections/${collection.id}/events`, { eventId: randomUUID() }),
        await as(ownerId).post(`/collections/${collection.id}/events`, { eventId: 'nonexistent' }),
        await as(ownerId).post(`/collections/${randomUUID()}/events`, { eventId: event.id }),
        await as(ownerId).post('/collections/not-a-uuid/events', { eventId: event.id }),
        await as(intruderId).post(`/collections/${collection.id}/events`, { eventId: event.id }),
      ];

      expect(cases.map((c) => [c.status, c.body.error.code])).toEqual([
        [404, 'event_not_found'],
        [404, 'event_not_found'],
        [404, 'collection_not_found'],
        [404, 'collection_not_found'],
        [404, 'collection_not_found'],
      ]);
      await settle();
      expect(await interactionsOf(stack.db, ownerId)).toHaveLength(0);
      expect(await interactionsOf(stack.db, intruderId)).toHaveLength(0);
    });

    test('other users cannot see, list or change a collection', async () => {
      const owner = as(newUser());
      const intruder = as(newUser());
      const event = await buildEvent(stack.db);
      const { body: collection } = await owner.post('/collections', { name: 'Private' });
      await owner.post(`/collections/${collection.id}/events`, { eventId: event.id });

      expect(await intruder.get(`/collections/${collection.id}`)).toMatchObject({
        status: 404,
        body: { error: { code: 'collection_not_found' } },
      });
      expect((await intruder.get('/collections')).body).toEqual({ items: [], nextCursor: null });
      expect(await intruder.get(`/collections/${collection.id}/events`)).toMatchObject({
        status: 404,
        body: { error: { code: 'collection_not_found' } },
      });
      expect((await intruder.delete(`/collections/${collection.id}/events/${event.id}`)).status).toBe(404);
      expect((await owner.get(`/collections/${collection.id}`)).body.eventIds).toEqual([event.id]);
    });

    test('removing an event answers 204, removes the entry and keeps the SAVE', async () => {
      const userId = newUser();
      const user = as(userId);
      const event = await buildEvent(stack.db);
      const { body: collection } = await user.post('/collections', { name: 'Short-lived' });
      await user.post(`/collections/${collection.id}/events`, { eventId: event.id });
      await waitForInteractions(stack.db, userId, 1);

      const res = await user.delete(`/collections/${collection.id}/events/${event.id}`);

      expect(res.status).toBe(204);
      expect((await user.get(`/collections/${collection.id}`)).body.eventIds).toEqual([]);
      expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
    });

    test('a collection needs a name', async () => {
      const res = await as(newUser()).post('/collections', { name: '  ' });
      expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    });
  });

  describe('gig applications', () => {
    test('applying answers 201 and records one APPLY with source gig_application', async () => {
      const userId = newUser();
      const user = as(userId);
      const gig = await buildEvent(stack.db, { kind: 'gig' });

      const res = await user.post(`/gigs/${gig.id}/applications`, { message: 'I play the drums' });

      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        eventId: gig.id,
        status: 'submitted',
        message: 'I play the drums',
        createdAt: expect.any(String),
      });
      const [row] = await waitForInteractions(stack.db, userId, 1);
      expect(row).toMatchObject({ userId, eventId: gig.id, action: 'APPLY', source: 'gig_application' });
      expect(await user.get(`/gigs/${gig.id}/applications/me`)).toMatchObject({ status: 200, body: res.body });
    });

    test('applying twice is a 409 and records no second APPLY', async () => {
      const userId = newUser();
      const gig = await buildEvent(stack.db, { kind: 'gig' });
      await as(userId).post(`/gigs/${gig.id}/applications`);

      const again = await as(userId).post(`/gigs/${gig.id}/applications`, { message: 'again' });

      expect(again).toMatchObject({ status: 409, body: { error: { code: 'already_applied' } } });
      await waitForInteractions(stack.db, userId, 1);
      await settle();
      expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
    });

    test('an event that is not a gig, or no event at all, is a 404 and records nothing', async () => {
      const userId = newUser();
      const plain = await buildEvent(stack.db, { kind: 'event' });
      const statuses = [
        await as(userId).post(`/gigs/${plain.id}/applications`),
        await as(userId).post(`/gigs/${randomUUID()}/applications`),
        await as(userId).post('/gigs/nonexistent/applications'),
      ].map((r) => [r.status, r.body.error.code]);

      expect(statuses).toEqual([
        [404, 'gig_not_found'],
        [404, 'gig_not_found'],
        [404, 'gig_not_found'],
      ]);
      await settle();
      expect(await interactionsOf(stack.db, userId)).toHaveLength(0);
    });

    test('the body is optional', async () => {
      const gig = await buildEvent(stack.db, { kind: 'gig' });
      const res = await stack.request('POST', `/gigs/${gig.id}/applications`, { token: stack.token() });
      expect(res).toMatchObject({ status: 201, body: { message: null, status: 'submitted' } });
    });

    test("one user cannot see another's application", async () => {
      const gig = await buildEvent(stack.db, { kind: 'gig' });
      await as(newUser()).post(`/gigs/${gig.id}/applications`);
      expect(await as(newUser()).get(`/gigs/${gig.id}/applications/me`)).toMatchObject({
        status: 404,
        body: { error: { code: 'application_not_found' } },
      });
    });
  });
});
