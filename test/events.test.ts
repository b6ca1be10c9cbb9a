import { randomUUID } from 'node:crypto';
import { startStack, type Stack } from './helpers/stack';

describe('events', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.stop());

  const organizer = () => stack.token({ sub: `org-${randomUUID()}`, roles: ['organizer'] });
  const valid = {
    title: 'Late-night jazz trio',
    startsAt: '2030-05-01T20:00:00+02:00',
    kind: 'gig',
    category: 'jazz',
    tags: ['jazz', 'live'],
    city: 'Berlin',
    ticketUrl: 'https://tickets.example/jazz',
  };

  test('an organizer creates an event (201) that GET /events/:id returns', async () => {
    const token = organizer();
    const created = await stack.request('POST', '/events', { token, body: valid });

    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...valid, id: expect.any(String), startsAt: '2030-05-01T18:00:00.000Z' });
    expect(created.headers.get('location')).toBe(`/events/${created.body.id}`);
    const fetched = await stack.request('GET', `/events/${created.body.id}`);
    expect(fetched).toMatchObject({ status: 200, body: created.body });
  });

  test('an admin may create events; optional fields may be left out', async () => {
    const res = await stack.request('POST', '/events', {
      token: stack.token({ roles: ['admin'] }),
      body: { title: 'Meetup', startsAt: '2030-01-01T10:00:00Z', kind: 'event' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ category: null, tags: [], city: null, ticketUrl: null });
  });

  test.each([
    ['no roles', {}],
    ['other roles', { roles: ['member'] }],
  ])('a user with %s gets 403, whatever the body', async (_name, claims) => {
    for (const body of [valid, { nonsense: true }]) {
      const res = await stack.request('POST', '/events', { token: stack.token(claims), body });
      expect(res).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    }
  });

  test.each([
    ['no title', { ...valid, title: undefined }],
    ['a blank title', { ...valid, title: '   ' }],
    ['a date that is not ISO 8601', { ...valid, startsAt: 'next friday' }],
    ['an unknown kind', { ...valid, kind: 'party' }],
    ['tags that are not strings', { ...valid, tags: [1, 2] }],
    ['a javascript: ticket URL', { ...valid, ticketUrl: 'javascript:alert(1)' }],
    ['a NUL byte in the title', { ...valid, title: 'a\u0000b' }],
    ['a control character in a tag', { ...valid, tags: ['ok', 'bad\u0007'] }],
    ['a lone surrogate in the city', { ...valid, city: 'Berl\ud800in' }],
    ['a NUL byte in the ticket URL', { ...valid, ticketUrl: 'https://tickets.example/a\u0000b' }],
    ['a control character in the ticket URL', { ...valid, ticketUrl: 'https://tickets.example/\u001b[2J' }],
    ['a C1 control character in the title', { ...valid, title: 'a\u009b31mred' }],
    ['a start that is year 10000 in UTC', { ...valid, startsAt: '9999-12-31T23:59:59-12:00' }],
    ['a start before year 0000 in UTC', { ...valid, startsAt: '0000-01-01T00:00:00+01:00' }],
  ])('%s is a 400', async (_name, body) => {
    const res = await stack.request('POST', '/events', { token: organizer(), body });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', message: expect.any(String) } } });
  });

  test.each([
    ['a missing UUID', randomUUID()],
    ['a non-UUID id', 'nonexistent'],
  ])('GET /events/:id with %s is a 404', async (_name, id) => {
    const res = await stack.request('GET', `/events/${id}`);
    expect(res).toMatchObject({ status: 404, body: { error: { code: 'event_not_found' } } });
  });
});
