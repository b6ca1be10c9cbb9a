import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { ACTIONS } from '../src/domain/weights';
import { buildEvent } from './helpers/factories';
import { startStack, type Stack } from './helpers/stack';

// Bounded: `npm test` runs a few hundred requests per property; `npm run test:fuzz` many more.
const runs = Number(process.env.FUZZ_RUNS ?? 150);

describe('bad input, generated (fast-check)', () => {
  let stack: Stack;
  let eventId: string;
  let collectionId: string;
  const user = `fuzz-${randomUUID()}`;
  let sent = 0;
  beforeAll(async () => {
    stack = await startStack({ worker: false, relay: false, ownDatabase: true });
    eventId = (await buildEvent(stack.db, { kind: 'gig' })).id;
    const created = await stack.request('POST', '/collections', { token: stack.token({ sub: user }), body: { name: 'Fuzz' } });
    collectionId = created.body.id;
  });
  afterAll(() => stack.stop());

  /** Sends raw bytes, so that bodies need not be valid JSON, or even UTF-8. */
  async function send(method: string, path: string, body: Uint8Array | string | undefined, headers: Record<string, string>) {
    sent += 1;
    const res = await fetch(`${stack.baseUrl}${path}`, { method, headers, body: body as never });
    const text = await res.text();
    return { status: res.status, text };
  }

  /** Never a 5xx; any 4xx has exactly the one error shape. */
  function expectWellFormed(answer: { status: number; text: string }) {
    expect(answer.status).toBeLessThan(500);
    if (answer.status >= 400) {
      const body = JSON.parse(answer.text) as { error: Record<string, unknown> };
      expect(Object.keys(body)).toEqual(['error']);
      expect(Object.keys(body.error).sort()).toEqual(expect.arrayContaining(['code', 'message']));
      expect(typeof body.error.code).toBe('string');
      expect(typeof body.error.message).toBe('string');
    }
  }

  /** Everything a write could leave behind: queued jobs and the rows of every table writes touch. */
  async function footprint() {
    const { rows } = await stack.db.raw(
      `select (select count(*) from events) e, (select count(*) from collections) c, (select count(*) from collection_events) ce,
              (select count(*) from gig_applications) g, (select count(*) from outbox) o`,
    );
    return { ...rows[0], waiting: await stack.producer.queue.getWaitingCount() };
  }

  const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'userId', 'eventId', 'action', 'toString');
  const hostileString = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom("' or 1=1 --", '"; drop table interactions; --', '\u0000', '\ud800', '%00', '../../etc/passwd', 'a'.repeat(5000)),
    fc.uuid(),
  );
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      hostileString,
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.oneof(hostileKey, fc.string()), tie('value'), { maxKeys: 4 }),
    ),
  })).value;
  const interactionLike = fc.record(
    {
      eventId: fc.oneof(hostileString, fc.constant('EVENT')),
      action: fc.oneof(fc.constantFrom(...ACTIONS), hostileString),
      userId: hostileString,
      __proto__: json,
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    json.map((v) => JSON.stringify(v) ?? ''),
    interactionLike.map((v) => JSON.stringify(v).replace('"EVENT"', JSON.stringify(eventId))),
    fc.string(),
    fc.uint8Array({ maxLength: 300 }), // invalid UTF-8 more often than not
    fc.nat({ max: 3000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)), // deep nesting
    fc.constant(JSON.stringify({ eventId: 'x', action: 'VIEW', pad: 'x'.repeat(20_000) })), // over the 8 kB limit
    fc.constant('{"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"polluted": 1}}}'),
  );
  const contentType = fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=latin1',
    'application/vnd.api+json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    '',
  );
  const writes = fc.constantFrom('/interactions', '/events', '/collections', 'COLLECTION/events', `/gigs/EVENT/applications`);

  test('bodies and content types of every write endpoint: no 5xx, one error shape, no row or job when refused', async () => {
    await fc.assert(
      fc.asyncProperty(writes, body, contentType, async (path, payload, type) => {
        const before = await footprint();
        const answer = await send(
          'POST',
          path.replace('COLLECTION', `/collections/${collectionId}`).replace('EVENT', eventId),
          typeof payload === 'string' ? payload : payload,
          { authorization: `Bearer ${stack.token({ sub: user, roles: ['organizer'] })}`, ...(type ? { 'content-type': type } : {}) },
        );
        expectWellFormed(answer);
        if (answer.status >= 400) expect(await footprint()).toEqual(before); // refused: no row, no job
      }),
      { numRuns: runs },
    );
  });

  test('ids and query strings: no 5xx, one error shape', async () => {
    const segment = fc.oneof(
      hostileString.map((s) => encodeURIComponent(s.toWellFormed())),
      fc.constantFrom('%', '%zz', '%c3%28', '..', '%00'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          segment.map((s) => `/events/${s}`),
          segment.map((s) => `/collections/${s}`),
          segment.map((s) => `/recommendations?limit=${s}`),
          fc.tuple(segment, segment).map(([a, b]) => `/recommendations?limit=${a}&limit=${b}&cursor=${b}`),
          fc.bigInt().map((n) => `/recommendations?limit=${n}`),
          segment.map((s) => `/recommendations?cursor=${s}`),
        ),
        async (path) => expectWellFormed(await send('GET', path, undefined, { authorization: `Bearer ${stack.token({ sub: user })}` })),
      ),
      { numRuns: runs },
    );
  });

  test('headers: tokens and idempotency keys of any shape are refused cleanly', async () => {
    await fc.assert(
      fc.asyncProperty(hostileString, hostileString, async (token, key) => {
        const answer = await send('POST', '/interactions', JSON.stringify({ eventId, action: 'VIEW' }), {
          'content-type': 'application/json',
          authorization: `Bearer ${token.replace(/[^\x20-\x7e]/g, '')}`,
          'idempotency-key': key.replace(/[^\x20-\x7e]/g, '') || 'k',
        });
        expectWellFormed(answer);
        expect(answer.status).toBe(401);
      }),
      { numRuns: runs },
    );
  });

  afterAll(() => {
    // Printed for the figures of docs/reliability.md: how many requests the properties sent.
    if (process.env.FUZZ_RUNS) console.log(`fuzz: ${sent} requests`);
  });
});
