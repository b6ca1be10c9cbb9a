import { randomUUID } from 'node:crypto';
import { buildEvent } from './helpers/factories';
import { startStack, type Stack } from './helpers/stack';
import { jobCarrying } from './helpers/wait';

// No worker here: every case below must be refused before anything is queued.
describe('POST /interactions refuses what it cannot accept, and queues nothing', () => {
  let stack: Stack;
  let eventId: string;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
    eventId = (await buildEvent(stack.db)).id;
  });
  afterAll(() => stack.stop());
  afterEach(async () => {
    const counts = await stack.producer.queue.getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
  });

  const post = (body: unknown, headers: Record<string, string> = {}) => stack.request('POST', '/interactions', { body, headers });
  const errorBody = (code: string) => ({ error: { code, message: expect.any(String) } });

  describe('when the event does not exist, responds 404', () => {
    test.each([
      ['a word', 'nonexistent'],
      ['a well-formed UUID that is not there', randomUUID()],
      ['an empty string', ''],
      ['a UUID-shaped string PostgreSQL would reject', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'],
      ['an SQL-looking string', "x' or '1'='1"],
    ])('for %s', async (_name, id) => {
      const res = await post({ eventId: id, action: 'VIEW' });
      expect(res.status).toBe(404);
      expect(res.body).toEqual(errorBody('event_not_found'));
    });
  });

  describe('when the body is wrong, responds 400', () => {
    test.each([
      ['eventId missing', { action: 'VIEW' }],
      ['action missing', () => ({ eventId })],
      ['eventId a number', { eventId: 42, action: 'VIEW' }],
      ['eventId null', { eventId: null, action: 'VIEW' }],
      ['action unknown', () => ({ eventId, action: 'LIKE' })],
      ['action in lower case', () => ({ eventId, action: 'view' })],
      ['action an array', () => ({ eventId, action: ['VIEW'] })],
      ['the body an array', () => [{ eventId, action: 'VIEW' }]],
      ['the body empty', ''],
    ])('%s', async (_name, body) => {
      const res = await post(typeof body === 'function' ? body() : body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errorBody('validation_failed'));
    });

    test.each([
      ['malformed JSON', '{"eventId": '],
      ['a JSON string', '"VIEW"'],
      ['JSON null', 'null'],
      ['a JSON number', '42'],
    ])('%s is invalid_json', async (_name, raw) => {
      const res = await post(raw);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errorBody('invalid_json'));
    });

    test('the message names the field and the allowed actions', async () => {
      const res = await post({ eventId, action: 'LIKE' });
      expect(res.body.error.message).toBe('action: must be one of VIEW, SAVE, CLICK, APPLY, DISMISS');
    });

    test('prototype-pollution keys are inert', async () => {
      const res = await post(`{"__proto__": {"action": "VIEW"}, "constructor": {"prototype": {"x": 1}}, "eventId": "${eventId}"}`);
      expect(res.status).toBe(400);
      expect(({} as Record<string, unknown>).action).toBeUndefined();
    });
  });

  test('responds 413 to a body over the size limit', async () => {
    const res = await post({ eventId, action: 'VIEW', padding: 'x'.repeat(20_000) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual(errorBody('payload_too_large'));
  });

  describe('responds 415 to a body that is not JSON', () => {
    test.each([
      ['text/plain', 'text/plain'],
      ['a form', 'application/x-www-form-urlencoded'],
      ['XML', 'application/xml'],
    ])('%s', async (_name, type) => {
      const res = await post(JSON.stringify({ eventId, action: 'VIEW' }), { 'content-type': type });
      expect(res.status).toBe(415);
      expect(res.body).toEqual(errorBody('unsupported_media_type'));
    });

    test('no content type at all', async () => {
      const res = await stack.request('POST', '/interactions');
      expect(res.status).toBe(415);
    });

    test.each(['charset=utf-7', 'charset=utf-16le', 'charset=UTF-16', 'charset="utf-32"', 'charset = utf-16le', 'charset=utf8'])(
      '%s, which the body parser would decode or refuse',
      async (charset) => {
        // "+AEQ-ISMISS" is DISMISS in UTF-7: bytes a filter in front of the API would not recognise.
        const res = await post(`{"eventId":"${eventId}","action":"+AEQ-ISMISS"}`, { 'content-type': `application/json; ${charset}` });
        expect(res.status).toBe(415);
        expect(res.body).toEqual(errorBody('unsupported_media_type'));
      },
    );

    test('a charset other than UTF-8', async () => {
      const res = await post(JSON.stringify({ eventId, action: 'VIEW' }), { 'content-type': 'application/json; charset=latin1' });
      expect(res.status).toBe(415);
      expect(res.body).toEqual(errorBody('unsupported_media_type'));
    });
  });

  test.each(['constructor', '__proto__', 'toString'])(
    'a Content-Encoding named like what every object has (%s) is a 415',
    async (encoding) => {
      const res = await post(JSON.stringify({ eventId: randomUUID(), action: 'VIEW' }), { 'content-encoding': encoding });
      expect(res).toMatchObject({ status: 415, body: errorBody('unsupported_media_type') });
    },
  );

  test('a compressed body that does not decompress is a 400', async () => {
    const res = await post('notgzip', { 'content-encoding': 'gzip' });
    expect(res).toMatchObject({ status: 400, body: errorBody('bad_request') });
  });

  test('a bad percent-encoding in the path is a 400', async () => {
    const res = await stack.request('GET', '/events/%ZZ');
    expect(res).toMatchObject({ status: 400, body: errorBody('bad_request') });
  });

  test('an unknown route is a 404 in the same error shape', async () => {
    const res = await stack.request('GET', '/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(errorBody('route_not_found'));
  });
});

describe('POST /interactions accepts', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.stop());

  test('a JSON media type with parameters, and answers with the job stored in Redis', async () => {
    const event = await buildEvent(stack.db);
    const res = await stack.request('POST', '/interactions', {
      body: { eventId: event.id.toUpperCase(), action: 'CLICK' },
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(res.status).toBe(202);
    expect(res.body.eventId).toBe(event.id);
    const job = await jobCarrying(stack.producer.queue, res.body.id);
    expect(job?.name).toBe('interaction.batch');
    expect(job?.data.interactions).toEqual([
      expect.objectContaining({ id: res.body.id, userId: expect.any(String), eventId: event.id, action: 'CLICK', source: 'api' }),
    ]);
  });

  test("and returns the caller's request id, or makes one", async () => {
    const mine = await stack.request('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(mine.headers.get('x-request-id')).toBe('abc-123');
    const made = await stack.request('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
