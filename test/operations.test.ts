import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { JOBS } from '../src/jobs/definitions';
import { Ajv2020 } from 'ajv/dist/2020';
import { LOGIN_FAILURES_PER_WINDOW } from '../src/http/admin-auth';
import { openApiDocument } from '../src/http/openapi';
import { interactionsOf } from './helpers/db';
import { buildEvent, interactionPayload, recordingJob } from './helpers/factories';
import { sparePort } from './helpers/redis-server';
import { startStack, type Stack } from './helpers/stack';
import { waitFor } from './helpers/wait';

const ADMIN = { ADMIN_USERNAME: 'ops', ADMIN_PASSWORD: 'correct horse battery' };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const now = () => Math.floor(Date.now() / 1000);

describe('the operations surface', () => {
  let stack: Stack;
  beforeAll(async () => {
    // As in production: a token without exp is refused.
    stack = await startStack({ env: { ...ADMIN, JWT_REQUIRE_EXP: 'true' } });
  });
  afterAll(() => stack.stop());

  const get = (path: string, headers: Record<string, string> = {}) => stack.request('GET', path, { token: null, headers });

  describe.each(['/admin/queues', '/metrics'])('%s', (path) => {
    test('without credentials: 401 with a Basic challenge a browser answers', async () => {
      const res = await get(path);
      expect(res).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    });

    test('any method without credentials: 401, not even an Allow header', async () => {
      for (const method of ['OPTIONS', 'HEAD', 'POST']) {
        const res = await stack.request(method, path, { token: null });
        expect({ method, status: res.status, allow: res.headers.get('allow') }).toEqual({ method, status: 401, allow: null });
      }
    });

    test('with a wrong password: 401', async () => {
      expect((await get(path, { authorization: basic('ops', 'wrong password!!') })).status).toBe(401);
      expect((await get(path, { authorization: basic('someone', ADMIN.ADMIN_PASSWORD) })).status).toBe(401);
    });

    test('with a valid token that lacks the admin role: 403', async () => {
      const res = await get(path, { authorization: `Bearer ${stack.token({ roles: ['organizer'] })}` });
      expect(res).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    });

    test('with an invalid token: 401', async () => {
      expect((await get(path, { authorization: 'Bearer nope' })).status).toBe(401);
    });

    test('with an admin token the API would refuse (no sub, no exp, issued ahead): 401', async () => {
      const sign = (claims: object) => jwt.sign(claims, stack.config.jwt.secret, { algorithm: 'HS256' });
      const refused = [
        sign({ roles: ['admin'], exp: now() + 60 }),
        sign({ roles: ['admin'], sub: 'ops-script' }),
        sign({ roles: ['admin'], sub: 'ops-script', iat: now() + 3600, exp: now() + 7200 }),
      ];
      for (const token of refused) expect((await get(path, { authorization: `Bearer ${token}` })).status).toBe(401);
    });

    test('with the admin password or an admin token: 200', async () => {
      expect((await get(path, { authorization: basic('ops', ADMIN.ADMIN_PASSWORD) })).status).toBe(200);
      expect((await get(path, { authorization: `Bearer ${stack.token({ roles: ['admin'] })}` })).status).toBe(200);
    });
  });

  test('the dashboard lists the queue through its API', async () => {
    const res = await get('/admin/queues/api/queues', { authorization: basic('ops', ADMIN.ADMIN_PASSWORD) });
    expect(res.status).toBe(200);
    expect(res.body.queues.map((q: { name: string }) => q.name)).toEqual(['interactions']);
  });

  test('a state-changing dashboard request from another site is refused (CSRF)', async () => {
    const auth = { authorization: basic('ops', ADMIN.ADMIN_PASSWORD) };
    const crossSite = await stack.request('PUT', '/admin/queues/api/queues/interactions/retry/failed', {
      token: null,
      headers: { ...auth, origin: 'https://evil.example' },
    });
    expect(crossSite).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    const fetchMetadata = await stack.request('PUT', '/admin/queues/api/queues/interactions/retry/failed', {
      token: null,
      headers: { ...auth, 'sec-fetch-site': 'cross-site' },
    });
    expect(fetchMetadata).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    const sameSite = await stack.request('PUT', '/admin/queues/api/queues/interactions/retry/failed', {
      token: null,
      headers: { ...auth, 'sec-fetch-site': 'same-origin' },
    });
    expect(sameSite.status).toBe(200);
  });

  test('/metrics has request durations by route, queue depth by state and process metrics', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${Date.now()}`;
    await stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId: event.id, action: 'VIEW' } });

    const res = await stack.request('GET', '/metrics', { token: null, headers: { authorization: basic('ops', ADMIN.ADMIN_PASSWORD) } });

    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const lines = (res.body as string).split('\n');
    const has = (...parts: string[]) => lines.some((line) => parts.every((part) => line.includes(part)));
    expect(has('http_request_duration_seconds_count{', 'method="POST"', 'route="/interactions"', 'status_code="202"')).toBe(true);
    expect(has('queue_jobs{', 'queue="interactions"', 'state="waiting"')).toBe(true);
    expect(has('process_resident_memory_bytes')).toBe(true);
    expect(has('outbox_rows{')).toBe(true);
  });

  test('health probes answer without credentials; readiness includes migrations', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await get('/readyz')).toMatchObject({ status: 200, body: { status: 'ready', database: true, redis: true, migrations: true } });
  });
});

describe('the dashboard cannot lose or forge interactions', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: ADMIN });
  });
  afterAll(() => stack.stop());

  const asAdmin = (method: string, path: string, body?: unknown) =>
    stack.request(method, `/admin/queues/api/queues/interactions${path}`, {
      token: null,
      headers: { authorization: basic('ops', ADMIN.ADMIN_PASSWORD) },
      body,
    });

  test('every action that removes, edits or adds jobs is refused, and the accepted interactions stay queued', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    for (let i = 0; i < 3; i += 1) {
      const res = await stack.request('POST', '/interactions', {
        token: stack.token({ sub: userId }),
        body: { eventId: event.id, action: 'VIEW' },
      });
      expect(res.status).toBe(202);
    }
    const [job] = await stack.producer.queue.getWaiting();
    const before = await stack.producer.queue.getJobCounts();
    const forged = {
      name: JOBS.recordInteractions,
      data: { interactions: [interactionPayload(`user-${randomUUID()}`, event.id, 'SAVE')] },
    };

    const answers = [
      await asAdmin('PUT', '/empty'),
      await asAdmin('PUT', '/clean/completed'),
      await asAdmin('PUT', '/clean/failed'),
      await asAdmin('PUT', '/pause'),
      await asAdmin('PUT', '/obliterate', { confirmQueueName: 'interactions' }),
      await asAdmin('POST', '/add', forged),
      await asAdmin('PUT', `/${job!.id}/clean`),
      await asAdmin('PATCH', `/${job!.id}/update-data`, { data: forged.data }),
      await asAdmin('PUT', '/promote'),
    ];

    for (const answer of answers) expect(answer).toMatchObject({ status: 403, body: { error: { code: 'dashboard_read_only' } } });
    expect(await stack.producer.queue.getJobCounts()).toEqual(before);
    expect((await stack.producer.queue.getJob(job!.id!))?.data).toEqual(job!.data);
    expect(await stack.producer.queue.isPaused()).toBe(false);
  });

  test('the worker refuses a job the service did not sign, and a retry from the dashboard cannot make it pass', async () => {
    const event = await buildEvent(stack.db);
    const victim = `user-${randomUUID()}`;
    const data = interactionPayload(victim, event.id, 'DISMISS');
    const signed = recordingJob(stack.producer, interactionPayload(victim, event.id, 'SAVE')).data;
    const tampered = { ...signed, interactions: [{ ...signed.interactions[0]!, action: 'DISMISS' as const }] };
    const unsigned = await stack.producer.queue.add(JOBS.recordInteractions, { interactions: [data] }, { jobId: data.id, attempts: 3 });
    const altered = await stack.producer.queue.add(JOBS.recordInteractions, tampered, { jobId: signed.interactions[0]!.id, attempts: 3 });
    const genuine = await stack.request('POST', '/interactions', {
      token: stack.token({ sub: victim }),
      body: { eventId: event.id, action: 'SAVE' },
    });
    await stack.startWorker();

    for (const job of [unsigned, altered]) {
      await waitFor('the forged job to fail', async () => (await job.getState()) === 'failed');
      const failed = await stack.producer.queue.getJob(job.id!);
      expect(failed).toMatchObject({ attemptsMade: 1, failedReason: expect.stringMatching(/^Refused: .*signature/) });
    }
    expect((await asAdmin('PUT', `/${unsigned.id}/retry`)).status).toBe(204);
    await waitFor('the retried job to fail again', async () => (await unsigned.getState()) === 'failed');

    await waitFor('the genuine row', async () => (await interactionsOf(stack.db, victim)).length === 1);
    expect(await interactionsOf(stack.db, victim)).toEqual([expect.objectContaining({ id: genuine.body.id, action: 'SAVE' })]);
  });
});

describe('without admin credentials configured', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.stop());

  test('the dashboard and /metrics are not served at all, even to an admin token', async () => {
    for (const path of ['/admin/queues', '/admin/feed', '/admin/feed/stats', '/metrics']) {
      const res = await stack.request('GET', path, { token: stack.token({ roles: ['admin'] }) });
      expect(res).toMatchObject({ status: 404, body: { error: { code: 'route_not_found' } } });
      expectDocumented('GET', path, res.status, res.body);
      expect((await stack.request('OPTIONS', path, { token: null })).headers.get('allow')).toBeNull();
    }
  });
});

describe('failed dashboard logins', () => {
  test('are throttled per client address: past the limit every attempt is a 429 with Retry-After, the right password too', async () => {
    const stack = await startStack({ worker: false, env: ADMIN });
    try {
      const get = (authorization?: string) =>
        stack.request('GET', '/admin/queues', { token: null, headers: authorization ? { authorization } : {} });
      for (let i = 0; i < LOGIN_FAILURES_PER_WINDOW; i += 1) expect((await get(basic('ops', `guess ${i}!!!!!!`))).status).toBe(401);
      const throttled = await get(basic('ops', 'one more guess!!'));
      expect(throttled).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
      expectDocumented('GET', '/admin/queues', throttled.status, throttled.body);
      for (const path of ['/admin/feed', '/admin/feed/stats']) {
        const res = await stack.request('GET', path, { token: null, headers: { authorization: basic('ops', 'x') } });
        expectDocumented('GET', path, res.status, res.body);
      }
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await get(basic(ADMIN.ADMIN_USERNAME, ADMIN.ADMIN_PASSWORD))).status).toBe(429);
      expect((await stack.request('GET', '/metrics', { token: null, headers: { authorization: basic('ops', 'x') } })).status).toBe(429);
      // A browser's first request, with no credentials yet, still gets the login challenge.
      expect((await get()).status).toBe(401);
    } finally {
      await stack.stop();
    }
  });
});

describe('failed dashboard logins behind a load balancer', () => {
  test('with TRUST_PROXY, count per reported client address and user name: one guessing client locks out only itself', async () => {
    const stack = await startStack({ worker: false, env: { ...ADMIN, TRUST_PROXY: 'loopback' } });
    try {
      const get = (from: string, authorization: string) =>
        stack.request('GET', '/admin/queues', { token: null, headers: { authorization, 'x-forwarded-for': from } });
      const attacker = '203.0.113.7';
      for (let i = 0; i < LOGIN_FAILURES_PER_WINDOW; i += 1)
        expect((await get(attacker, basic('ops', `guess ${i}!!!!!!`))).status).toBe(401);
      expect((await get(attacker, basic(ADMIN.ADMIN_USERNAME, ADMIN.ADMIN_PASSWORD))).status).toBe(429);
      // Another operator through the same load balancer logs in.
      expect((await get('198.51.100.20', basic(ADMIN.ADMIN_USERNAME, ADMIN.ADMIN_PASSWORD))).status).toBe(200);

      // Guessing user names locks out those names, not the operator who shares the address.
      const office = '198.51.100.30';
      for (let i = 0; i < LOGIN_FAILURES_PER_WINDOW; i += 1)
        expect((await get(office, basic('admin', `guess ${i}!!!!!!`))).status).toBe(401);
      expect((await get(office, basic('admin', 'one more guess!!'))).status).toBe(429);
      expect((await get(office, basic(ADMIN.ADMIN_USERNAME, ADMIN.ADMIN_PASSWORD))).status).toBe(200);
    } finally {
      await stack.stop();
    }
  });

  test('without TRUST_PROXY, a client cannot escape the throttle by claiming another address', async () => {
    const stack = await startStack({ worker: false, env: ADMIN });
    try {
      const get = (from: string, authorization: string) =>
        stack.request('GET', '/admin/queues', { token: null, headers: { authorization, 'x-forwarded-for': from } });
      for (let i = 0; i < LOGIN_FAILURES_PER_WINDOW; i += 1)
        expect((await get(`203.0.113.${i}`, basic('ops', `guess ${i}!!!!!!`))).status).toBe(401);
      expect((await get('203.0.113.99', basic('ops', 'one more guess!!'))).status).toBe(429);
    } finally {
      await stack.stop();
    }
  });
});

type Documented = { responses: Record<string, { content?: Record<string, { schema: object }> }> };
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

/** A response body against the schema the document gives for its path, method and status. */
function expectDocumented(method: string, template: string, status: number, body: unknown) {
  const operation = (openApiDocument.paths as unknown as Record<string, Record<string, Documented>>)[template]?.[method.toLowerCase()];
  const documented = operation?.responses[String(status)];
  expect({ [`${method} ${template}`]: documented ? status : `${status}, not documented` }).toEqual({ [`${method} ${template}`]: status });
  const schema = documented!.content?.['application/json']?.schema;
  if (!schema) return;
  const validate = ajv.compile({ ...schema, components: openApiDocument.components });
  if (!validate(body)) throw new Error(`${method} ${template} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
}

describe('the API description', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Its own database: the collection add and gig application it calls leave outbox rows, which
    // another test file's relay would otherwise move to that file's queue.
    stack = await startStack({ worker: false, ownDatabase: true });
  });
  afterAll(() => stack.stop());

  test('is served at /openapi.json as OpenAPI 3.1', async () => {
    const res = await stack.request('GET', '/openapi.json', { token: null });
    expect(res).toMatchObject({ status: 200, body: { openapi: '3.1.0' } });
  });

  test('groups every operation under a tag, and shows each error with an example of its body and code', () => {
    const paths = openApiDocument.paths as unknown as Record<
      string,
      Record<string, { tags: string[]; responses: Record<string, { content?: Record<string, { example?: any }> }> }>
    >;
    const tags = new Set(openApiDocument.tags.map((t) => t.name));
    for (const operations of Object.values(paths))
      for (const operation of Object.values(operations)) expect(tags).toContain(operation.tags[0]);
    expect(paths['/interactions']!.post!.tags).toEqual(['Interactions']);
    expect(paths['/recommendations']!.get!.tags).toEqual(['Feed']);
    expect(paths['/admin/feed/stats']!.get!.tags).toEqual(['Operations']);
    const examples = paths['/interactions']!.post!.responses;
    expect(examples['404']!.content!['application/json']!.example).toEqual({
      error: { code: 'event_not_found', message: expect.any(String) },
    });
    expect(examples['415']!.content!['application/json']!.example.error.code).toBe('unsupported_media_type');
    const body = JSON.stringify(paths['/interactions']!.post);
    expect(body).toContain('0193a0de-0000-7000-8000-000000000004'); // an event id that looks like one
    expect(body).toContain('2026-12-06T09:15:00Z'); // and a time of this era
  });

  test("describes the feed's limits as the API enforces them: the range, the default, a city's length", async () => {
    type Parameter = { name: string; schema: { minimum?: number; maximum?: number; default?: number; maxLength?: number } };
    const parameters = (path: string) =>
      (openApiDocument.paths as unknown as Record<string, { get: { parameters: Parameter[] } }>)[path]!.get.parameters;
    const param = (path: string, name: string) => parameters(path).find((p) => p.name === name)!.schema;
    const event = await buildEvent(stack.db);
    for (const [path, url] of [
      ['/recommendations', '/recommendations'],
      ['/events/{id}/similar', `/events/${event.id}/similar`],
    ] as const) {
      const { minimum, maximum, default: fallback } = param(path, 'limit');
      expect({ path, fallback }).toEqual({ path, fallback: expect.any(Number) });
      for (const [limit, status] of [
        [minimum! - 1, 400],
        [minimum!, 200],
        [maximum!, 200],
        [maximum! + 1, 400],
      ] as const) {
        expect({ url, limit, status: (await stack.request('GET', `${url}?limit=${limit}`)).status }).toEqual({ url, limit, status });
      }
    }
    const { maxLength } = param('/recommendations', 'city');
    expect((await stack.request('GET', `/recommendations?city=${'x'.repeat(maxLength!)}`)).status).toBe(200);
    expect((await stack.request('GET', `/recommendations?city=${'x'.repeat(maxLength! + 1)}`)).status).toBe(400);
  });

  test('documents exactly the routes the app serves', async () => {
    const served = routesOf(stack.app as unknown as { router: { stack: Layer[] } }).sort();
    const documented = Object.entries(openApiDocument.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    expect(served).toEqual(documented);
  });

  test("describes every answer the API gives: each response body matches the document's schema for its path and status", async () => {
    const organizer = stack.token({ roles: ['organizer'] });
    const call = async (method: string, path: string, template: string, options: { body?: unknown; token?: string } = {}) => {
      const res = await stack.request(method, path, options);
      expectDocumented(method, template, res.status, res.body);
      return res;
    };
    const soon = new Date(Date.now() + 86_400_000).toISOString();
    const event = await call('POST', '/events', '/events', {
      token: organizer,
      body: { title: 'Jazz night', startsAt: soon, kind: 'event', category: 'jazz', tags: ['live'] },
    });
    const gig = await call('POST', '/events', '/events', { token: organizer, body: { title: 'Sound tech', startsAt: soon, kind: 'gig' } });
    expect([event.status, gig.status]).toEqual([201, 201]);
    await call('GET', `/events/${event.body.id}`, '/events/{id}');
    await call('GET', '/events/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', '/events/{id}');
    expect((await call('POST', '/interactions', '/interactions', { body: { eventId: event.body.id, action: 'VIEW' } })).status).toBe(202);
    await call('POST', '/interactions', '/interactions', { body: { eventId: event.body.id, action: 'LIKE' } });
    const collection = await call('POST', '/collections', '/collections', { body: { name: 'Weekend' } });
    await call('POST', `/collections/${collection.body.id}/events`, '/collections/{id}/events', { body: { eventId: event.body.id } });
    await call('GET', '/collections', '/collections');
    await call('GET', `/collections/${collection.body.id}`, '/collections/{id}');
    await call('GET', `/collections/${collection.body.id}/events`, '/collections/{id}/events');
    expect(
      (await call('POST', `/gigs/${gig.body.id}/applications`, '/gigs/{eventId}/applications', { body: { message: 'Hi' } })).status,
    ).toBe(201);
    await call('GET', `/gigs/${gig.body.id}/applications/me`, '/gigs/{eventId}/applications/me');
    const feed = await call('GET', '/recommendations?limit=5', '/recommendations', { token: stack.token({ sub: 'someone-new' }) });
    expect(feed.body.items.length).toBeGreaterThan(0);
    await call('GET', '/recommendations?limit=500', '/recommendations');
  });

  test('has a readable page at /docs, with its assets served locally', async () => {
    const page = await stack.request('GET', '/docs', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const bundle = await fetch(`${stack.baseUrl}/docs/assets/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
  });
});

describe('the API description, while PostgreSQL is unreachable', () => {
  test('documents the 503 of every route that reads it, and /readyz saying so', async () => {
    const stack = await startStack({
      worker: false,
      env: { ...ADMIN, DATABASE_URL: `postgres://postgres@127.0.0.1:${await sparePort()}/nowhere` },
    });
    try {
      const [id, other] = [randomUUID(), randomUUID()];
      const soon = new Date(Date.now() + 86_400_000).toISOString();
      const admin = stack.token({ roles: ['admin'] });
      // Every operation but the open ones and the operators' pages that read only Redis or nothing.
      const calls: [string, string, string, { body?: unknown; token?: string | null }?][] = [
        ['POST', '/interactions', '/interactions', { body: { eventId: id, action: 'VIEW' } }],
        ['POST', '/interactions/batch', '/interactions/batch', { body: { interactions: [{ eventId: id, action: 'VIEW' }] } }],
        ['POST', '/events', '/events', { token: stack.token({ roles: ['organizer'] }), body: { title: 'T', startsAt: soon, kind: 'gig' } }],
        ['GET', `/events/${id}`, '/events/{id}'],
        ['GET', `/events/${id}/similar`, '/events/{id}/similar'],
        ['GET', '/recommendations', '/recommendations'],
        ['POST', '/collections', '/collections', { body: { name: 'Weekend' } }],
        ['GET', '/collections', '/collections'],
        ['GET', `/collections/${id}`, '/collections/{id}'],
        ['GET', `/collections/${id}/events`, '/collections/{id}/events'],
        ['POST', `/collections/${id}/events`, '/collections/{id}/events', { body: { eventId: other } }],
        ['DELETE', `/collections/${id}/events/${other}`, '/collections/{id}/events/{eventId}'],
        ['POST', `/gigs/${id}/applications`, '/gigs/{eventId}/applications', { body: {} }],
        ['GET', `/gigs/${id}/applications/me`, '/gigs/{eventId}/applications/me'],
        ['GET', '/admin/feed/stats?from=2026-12-01&to=2026-12-02', '/admin/feed/stats', { token: admin }],
        ['GET', '/readyz', '/readyz', { token: null }],
      ];
      const exempt = ['GET /healthz', 'GET /openapi.json', 'GET /docs', 'GET /metrics', 'GET /admin/queues', 'GET /admin/feed'];
      const documented = Object.entries(openApiDocument.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
      );
      expect(calls.map(([method, , template]) => `${method} ${template}`).sort()).toEqual(
        documented.filter((o) => !exempt.includes(o)).sort(),
      );

      for (const [method, path, template, options] of calls) {
        const res = await stack.request(method, path, options);
        expect({ path, status: res.status }).toEqual({ path, status: 503 });
        expectDocumented(method, template, res.status, res.body);
      }
    } finally {
      await stack.stop();
    }
  });
});

describe('cross-origin requests from an allowed origin', () => {
  test('reach the API, with every request header it reads, never the operations surface, however its path is spelled', async () => {
    const origin = 'https://app.example';
    const stack = await startStack({ worker: false, env: { ...ADMIN, CORS_ORIGINS: origin } });
    try {
      const shared = async (method: string, path: string) => {
        const headers = { origin, 'access-control-request-method': 'GET' };
        const res = await stack.request(method, path, { token: method === 'OPTIONS' ? null : stack.token({ roles: ['admin'] }), headers });
        return res.headers.get('access-control-allow-origin');
      };
      expect(await shared('GET', '/recommendations')).toBe(origin);
      for (const path of ['/admin/queues', '/ADMIN/queues', '/Admin/feed', '/metrics', '/Metrics', '/METRICS/']) {
        for (const method of ['GET', 'OPTIONS'])
          expect({ method, path, shared: await shared(method, path) }).toEqual({ method, path, shared: null });
      }
      // A browser sends a compressed body (gzip, deflate, br) or a key only once the preflight allows the header.
      const asked = ['authorization', 'content-type', 'content-encoding', 'idempotency-key', 'x-request-id'];
      const preflight = await stack.request('OPTIONS', '/interactions/batch', {
        token: null,
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': asked.join(',') },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')!.toLowerCase().split(/,\s*/)).toEqual(expect.arrayContaining(asked));
    } finally {
      await stack.stop();
    }
  });
});

describe('security headers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.stop());

  test('are on every response: API answers, errors, probes, docs; the API also gets a strict content policy', async () => {
    await waitFor('readiness', async () => (await stack.request('GET', '/readyz', { token: null })).status === 200);
    const answers = await Promise.all([
      stack.request('GET', '/recommendations'),
      stack.request('POST', '/interactions', { body: { eventId: 'nope', action: 'VIEW' } }),
      stack.request('GET', '/recommendations', { token: null }),
      stack.request('GET', '/no-such-path'),
      stack.request('GET', '/healthz', { token: null }),
      stack.request('GET', '/docs', { token: null }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 404, 401, 404, 200, 200]);
    for (const answer of answers) {
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(answer.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(answer.headers.get('x-powered-by')).toBeNull();
    }
    expect(answers[0]!.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });
});

/** "METHOD /path" for every route of the app's own routers (the dashboard's internals aside). */
function routesOf(app: { router: { stack: Layer[] } }): string[] {
  const out: string[] = [];
  const walk = (layers: Layer[]) => {
    for (const layer of layers) {
      if (layer.route) for (const method of Object.keys(layer.route.methods)) out.push(`${method.toUpperCase()} ${layer.route.path}`);
      else if (layer.handle.stack && !layer.matchers?.some((m) => m('/admin/queues'))) walk(layer.handle.stack);
    }
  };
  walk(app.router.stack);
  // The dashboard is one documented entry point; its own API is Bull Board's.
  return [...new Set(out), 'GET /admin/queues'].filter((route) => !route.startsWith('GET /docs/') || route === 'GET /docs');
}

interface Layer {
  name: string;
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  matchers?: ((path: string) => unknown)[];
}
