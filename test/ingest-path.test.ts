import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ForbiddenError } from '../src/errors';
import type { Step } from '../src/http/pipeline';
import { buildEvent } from './helpers/factories';
import { startStack, type Stack } from './helpers/stack';
import { sleep, waitFor } from './helpers/wait';

const ORIGIN = 'https://app.example';

interface Sent {
  headers?: Record<string, string>;
  body?: string;
  path?: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: unknown;
}

/** Headers whose value a client or a browser acts on; compared between the two paths. */
const COMPARED_HEADERS = [
  'content-type',
  'www-authenticate',
  'retry-after',
  'access-control-allow-origin',
  'access-control-expose-headers',
  'vary',
  'x-content-type-options',
  'content-security-policy',
  'strict-transport-security',
  'x-frame-options',
  'referrer-policy',
  'cross-origin-resource-policy',
  'connection',
];

async function send(base: string, { headers = {}, body, path = '/interactions' }: Sent): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return {
    status: res.status,
    headers: Object.fromEntries(COMPARED_HEADERS.map((name) => [name, res.headers.get(name)])),
    body: parsed,
  };
}

/** An answer with its fresh parts (the interaction's id) blanked, for comparing two paths' answers. */
const comparable = (answer: Answer) => ({
  ...answer,
  body: typeof answer.body === 'object' && answer.body && 'id' in answer.body ? { ...answer.body, id: '(id)' } : answer.body,
});

describe('POST /interactions on its plain path', () => {
  let stack: Stack;
  let expressOnly: Server;
  let expressUrl: string;
  let eventId: string;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { RATE_LIMIT_WRITES_PER_MINUTE: '3', CORS_ORIGINS: ORIGIN } });
    // The same app and dependencies with every request through Express: what the plain path must equal.
    expressOnly = await new Promise<Server>((resolve) => {
      const server = createServer(stack.app).listen(0, '127.0.0.1', () => resolve(server));
    });
    expressUrl = `http://127.0.0.1:${(expressOnly.address() as AddressInfo).port}`;
    await waitFor('readiness', async () => (await stack.request('GET', '/readyz', { token: null })).status === 200);
    eventId = (await buildEvent(stack.db)).id;
  });
  afterAll(async () => {
    await new Promise((resolve) => expressOnly.close(resolve));
    await stack.stop();
  });

  test('a plain request is answered without Express, and counted in the metrics under its route', async () => {
    const handled = jest.spyOn(stack.app as unknown as { handle: (...args: unknown[]) => void }, 'handle');
    const counted = async () => {
      const metric = await stack.metrics.httpDuration.get();
      const sample = metric.values.find(
        (v) =>
          v.metricName === 'http_request_duration_seconds_count' && v.labels.route === '/interactions' && v.labels.status_code === '202',
      );
      return sample?.value ?? 0;
    };
    try {
      const before = await counted();
      const plain = await stack.request('POST', '/interactions', {
        token: stack.token({ sub: `user-${randomUUID()}` }),
        body: { eventId, action: 'VIEW' },
      });
      expect(plain.status).toBe(202);
      expect(handled).not.toHaveBeenCalled();
      await waitFor('the request counted', async () => (await counted()) === before + 1);

      // Not in the plain form (a query string): Express answers it, the same way.
      const withQuery = await stack.request('POST', '/interactions?via=express', {
        token: stack.token({ sub: `user-${randomUUID()}` }),
        body: { eventId, action: 'VIEW' },
      });
      expect(withQuery.status).toBe(202);
      expect(handled).toHaveBeenCalledTimes(1);
    } finally {
      handled.mockRestore();
    }
  });

  const json = { 'content-type': 'application/json' };
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
  const cases: [string, (token: string) => Sent][] = [
    ['an interaction', (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: JSON.stringify({ eventId, action: 'VIEW' }) })],
    [
      'an interaction with an Idempotency-Key and its own request id',
      (t) => ({
        headers: { ...json, authorization: `Bearer ${t}`, 'idempotency-key': 'tap-1', 'x-request-id': 'req-42' },
        body: JSON.stringify({ eventId, action: 'SAVE' }),
      }),
    ],
    [
      'a body with a byte-order mark, a +json type and a charset',
      (t) => ({
        headers: { 'content-type': 'application/vnd.api+json; charset=UTF-8', authorization: `Bearer ${t}` },
        body: `\uFEFF${JSON.stringify({ eventId, action: 'CLICK' })}`,
      }),
    ],
    [
      'an allowed origin',
      (t) => ({ headers: { ...json, authorization: `Bearer ${t}`, origin: ORIGIN }, body: JSON.stringify({ eventId, action: 'VIEW' }) }),
    ],
    [
      'another origin',
      (t) => ({
        headers: { ...json, authorization: `Bearer ${t}`, origin: 'https://evil.example' },
        body: JSON.stringify({ eventId, action: 'VIEW' }),
      }),
    ],
    ['no token', () => ({ headers: json, body: JSON.stringify({ eventId, action: 'VIEW' }) })],
    ['a Basic credential', () => ({ headers: { ...json, authorization: 'Basic b3BzOnNlY3JldA==' }, body: '{}' })],
    ['a forged token', () => ({ headers: { ...json, authorization: 'Bearer a.b.c' }, body: '{}' })],
    ['a token with no subject', () => ({ headers: { ...json, authorization: `Bearer ${stack.token({ sub: undefined })}` }, body: '{}' })],
    [
      'an expired token',
      () => ({ headers: { ...json, authorization: `Bearer ${stack.token({ exp: Math.floor(Date.now() / 1000) - 60 })}` }, body: '{}' }),
    ],
    ['text/plain', (t) => ({ headers: { 'content-type': 'text/plain', authorization: `Bearer ${t}` }, body: '{}' })],
    ['UTF-16 JSON', (t) => ({ headers: { 'content-type': 'application/json; charset=utf-16', authorization: `Bearer ${t}` }, body: '{}' })],
    [
      'a spaced charset = utf-16le',
      (t) => ({
        headers: { 'content-type': 'application/json;charset = utf-16le', authorization: `Bearer ${t}` },
        body: JSON.stringify({ eventId, action: 'VIEW' }),
      }),
    ],
    [
      'charset=utf8, which the body parser refuses',
      (t) => ({
        headers: { 'content-type': 'application/json; charset=utf8', authorization: `Bearer ${t}` },
        body: JSON.stringify({ eventId, action: 'VIEW' }),
      }),
    ],
    [
      'a quoted, upper-case charset',
      (t) => ({
        headers: { 'content-type': 'Application/JSON; Charset="UTF-8"', authorization: `Bearer ${t}` },
        body: JSON.stringify({ eventId, action: 'VIEW' }),
      }),
    ],
    ['no content type', (t) => ({ headers: { authorization: `Bearer ${t}` }, body: '{}' })],
    ['broken JSON', (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: '{"eventId":' })],
    ['a JSON number', (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: '42' })],
    ['an empty body', (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: '' })],
    ['only spaces', (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: '   ' })],
    ['an array', (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: '[]' })],
    [
      'an unknown action',
      (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: JSON.stringify({ eventId, action: 'LIKE' }) }),
    ],
    [
      'an event that does not exist',
      (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: JSON.stringify({ eventId: randomUUID(), action: 'VIEW' }) }),
    ],
    [
      'a bad Idempotency-Key',
      (t) => ({
        headers: { ...json, authorization: `Bearer ${t}`, 'idempotency-key': 'k'.repeat(300) },
        body: JSON.stringify({ eventId, action: 'VIEW' }),
      }),
    ],
    [
      'a time in the future',
      (t) => ({
        headers: { ...json, authorization: `Bearer ${t}` },
        body: JSON.stringify({ eventId, action: 'VIEW', occurredAt: tomorrow }),
      }),
    ],
    [
      'a field the API does not know',
      (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: JSON.stringify({ eventId, action: 'VIEW', userId: 'someone' }) }),
    ],
    ['a body over the limit', (t) => ({ headers: { ...json, authorization: `Bearer ${t}` }, body: `{"pad":"${'x'.repeat(9000)}"}` })],
  ];

  test.each(cases)('%s: the same answer as through Express', async (name, request) => {
    const handled = jest.spyOn(stack.app as unknown as { handle: (...args: unknown[]) => void }, 'handle');
    try {
      const [plain, express] = await Promise.all(
        [stack.baseUrl, expressUrl].map((base) => send(base, request(stack.token({ sub: `user-${randomUUID()}` })))),
      );
      expect(comparable(plain!)).toEqual(comparable(express!));
      // Once for the Express-only server; a body over the limit is not in the plain form, so Express answers both.
      expect(handled).toHaveBeenCalledTimes(name === 'a body over the limit' ? 2 : 1);
    } finally {
      handled.mockRestore();
    }
  });

  test('every case is counted in the metrics under the same labels on both paths', async () => {
    const counts = async () => {
      const metric = await stack.metrics.httpDuration.get();
      return new Map(
        metric.values
          .filter((v) => v.metricName === 'http_request_duration_seconds_count')
          .map((v) => [`${v.labels.method} ${v.labels.route} ${v.labels.status_code}`, v.value]),
      );
    };
    const added = (before: Map<string, number>, after: Map<string, number>) =>
      [...after]
        .filter(([labels, n]) => n !== (before.get(labels) ?? 0))
        .map(([labels, n]) => `${labels} +${n - (before.get(labels) ?? 0)}`)
        .sort();
    for (const [name, request] of cases) {
      const counted: string[][] = [];
      // One path after the other: each request's count is told apart by what it added.
      for (const base of [stack.baseUrl, expressUrl]) {
        const before = await counts();
        await send(base, request(stack.token({ sub: `user-${randomUUID()}` })));
        counted.push(
          await waitFor(`${name} counted`, async () => {
            const labels = added(before, await counts());
            return labels.length > 0 ? labels : undefined;
          }),
        );
      }
      expect({ name, labels: counted[0] }).toEqual({ name, labels: counted[1] });
    }
  });

  test('over the rate limit: the same 429, and the request is not queued', async () => {
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 100); // the limit's window is the minute
    const answers = await Promise.all(
      [stack.baseUrl, expressUrl].map(async (base) => {
        const token = stack.token({ sub: `user-${randomUUID()}` });
        const request = { headers: { ...json, authorization: `Bearer ${token}` }, body: JSON.stringify({ eventId, action: 'VIEW' }) };
        const statuses = [];
        for (let i = 0; i < 3; i += 1) statuses.push((await send(base, request)).status);
        expect(statuses).toEqual([202, 202, 202]);
        return send(base, request);
      }),
    );
    expect(answers[0]!.status).toBe(429);
    expect(comparable(answers[0]!)).toEqual(comparable(answers[1]!));
  });
});

describe('a step added to the API', () => {
  test('is taken on both paths: the plain path, Express, and every other route', async () => {
    // A check of every request, as a deployment might add: suspended users are refused.
    const refuseSuspended: Step = (req, _res, next) =>
      next(req.user?.id.startsWith('suspended-') ? new ForbiddenError('This account is suspended') : undefined);
    const stack = await startStack({ worker: false, steps: (defaults) => [...defaults, refuseSuspended] });
    try {
      const eventId = (await buildEvent(stack.db)).id;
      const handled = jest.spyOn(stack.app as unknown as { handle: (...args: unknown[]) => void }, 'handle');
      const suspended = stack.token({ sub: `suspended-${randomUUID()}` });
      const body = { eventId, action: 'VIEW' };
      const refused = { status: 403, body: { error: { code: 'forbidden', message: 'This account is suspended' } } };

      expect(await stack.request('POST', '/interactions', { token: suspended, body })).toMatchObject(refused);
      expect(handled).not.toHaveBeenCalled(); // the plain path answered
      expect(await stack.request('POST', '/interactions?via=express', { token: suspended, body })).toMatchObject(refused);
      expect(await stack.request('POST', '/interactions/batch', { token: suspended, body: { interactions: [body] } })).toMatchObject(
        refused,
      );
      expect(await stack.request('GET', '/recommendations', { token: suspended })).toMatchObject(refused);
      expect(handled).toHaveBeenCalledTimes(3);
      expect(await stack.producer.queue.getJobCounts('waiting', 'delayed')).toEqual({ waiting: 0, delayed: 0 });

      expect((await stack.request('POST', '/interactions', { token: stack.token(), body })).status).toBe(202);
      handled.mockRestore();
    } finally {
      await stack.stop();
    }
  });
});
