import { randomUUID } from 'node:crypto';
import type { Action } from '../src/domain/weights';
import { buildEvent } from './helpers/factories';
import { waitForFold } from './helpers/model';
import { interactThroughApi } from './helpers/interact';
import { startStack, type Stack } from './helpers/stack';

const DAY = 24 * 60 * 60 * 1000;

type Similar = { items: { eventId: string; score: number; reasons: { code: string; text: string }[]; event: { id: string } }[] };

describe('GET /events/:id/similar', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
  });
  afterAll(() => stack.stop());

  const newUser = () => `user-${randomUUID()}`;

  const interact = (userId: string, ...pairs: [string, Action][]) => interactThroughApi(stack, userId, ...pairs);

  async function similar(userId: string, eventId: string, query = '') {
    const res = await stack.request('GET', `/events/${eventId}/similar${query}`, { token: stack.token({ sub: userId }) });
    expect(res.status).toBe(200);
    return res.body as Similar;
  }

  test('ordered by co-engagement, never the event itself or what the caller interacted with', async () => {
    const place = { category: 'Techno', tags: ['club'], city: 'Leipzig' };
    const [source, often, once, touched, unrelated] = await Promise.all(
      [1, 2, 3, 4, 5].map((d) => buildEvent(stack.db, { ...place, startsAt: new Date(Date.now() + d * DAY) })),
    );
    const started = await buildEvent(stack.db, { ...place, startsAt: new Date(Date.now() - DAY) });
    // Three users went from the source to `often`, one to `once`; the caller went on to `touched`.
    for (let i = 0; i < 3; i += 1) await interact(newUser(), [source!.id, 'SAVE'], [often!.id, 'SAVE']);
    await interact(newUser(), [source!.id, 'SAVE'], [once!.id, 'CLICK'], [started.id, 'SAVE']);
    const caller = newUser();
    await interact(caller, [source!.id, 'VIEW'], [touched!.id, 'SAVE']);
    await interact(newUser(), [unrelated!.id, 'SAVE'], [unrelated!.id, 'SAVE']);
    await waitForFold(stack.db);

    const body = await similar(caller, source!.id, '?limit=50');
    const ids = body.items.map((i) => i.eventId);
    expect(ids.slice(0, 2)).toEqual([often!.id, once!.id]);
    expect(body.items[0]!.reasons[0]).toEqual({ code: 'often_next', text: expect.any(String) });
    expect(body.items[0]!.score).toBeGreaterThan(body.items[1]!.score);
    expect(ids).not.toContain(source!.id);
    expect(ids).not.toContain(touched!.id);
    expect(ids).not.toContain(started.id);
    expect(new Set(ids).size).toBe(ids.length);
    // After the co-engaged: the event sharing its features, with the reason.
    const alike = body.items.find((i) => i.eventId === unrelated!.id);
    expect(alike?.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['same_category', 'same_city']));
    expect(alike?.reasons.find((r) => r.code === 'same_city')?.text).toBe('also in Leipzig');

    // Another caller, who touched nothing, gets `touched` too; the limit holds.
    expect((await similar(newUser(), source!.id, '?limit=50')).items.map((i) => i.eventId)).toContain(touched!.id);
    expect((await similar(newUser(), source!.id, '?limit=1')).items.map((i) => i.eventId)).toEqual([often!.id]);
    expect((await similar(newUser(), source!.id)).items.length).toBeLessThanOrEqual(10);
  });

  test('an event nobody engaged with yet still gets events of its kind, and a DISMISS hides one at once', async () => {
    const fresh = await buildEvent(stack.db, { category: 'Opera', city: 'Graz' });
    const sibling = await buildEvent(stack.db, { category: 'opera', city: 'Linz' });
    const caller = newUser();
    expect((await similar(caller, fresh.id, '?limit=50')).items.map((i) => i.eventId)).toContain(sibling.id);
    const res = await stack.request('POST', '/interactions', {
      token: stack.token({ sub: caller }),
      body: { eventId: sibling.id, action: 'DISMISS' },
    });
    expect(res.status).toBe(202);
    expect((await similar(caller, fresh.id, '?limit=50')).items.map((i) => i.eventId)).not.toContain(sibling.id);
  });

  test('404 event_not_found for an unknown event, 400 for a bad limit, 401 without a token', async () => {
    for (const id of [randomUUID(), 'not-an-id']) {
      const res = await stack.request('GET', `/events/${id}/similar`, { token: stack.token() });
      expect({ id, status: res.status, code: res.body.error?.code }).toEqual({ id, status: 404, code: 'event_not_found' });
    }
    const event = await buildEvent(stack.db);
    for (const limit of ['0', '51', '0051', 'x', '1.5']) {
      const res = await stack.request('GET', `/events/${event.id}/similar?limit=${limit}`, { token: stack.token() });
      expect({ limit, status: res.status, code: res.body.error?.code }).toEqual({ limit, status: 400, code: 'validation_failed' });
    }
    // Written as the feed's limit may be.
    expect((await stack.request('GET', `/events/${event.id}/similar?limit=050`, { token: stack.token() })).status).toBe(200);
    expect((await stack.request('GET', `/events/${event.id}/similar`, { token: null })).status).toBe(401);
  });
});
