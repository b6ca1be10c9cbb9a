import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { buildEvent } from './helpers/factories';
import { startStack, type Stack } from './helpers/stack';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('authentication', () => {
  let stack: Stack;
  let eventId: string;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
    eventId = (await buildEvent(stack.db)).id;
  });
  afterAll(() => stack.stop());

  const postWith = (authorization: string | null) =>
    stack.request('POST', '/interactions', {
      token: null,
      body: { eventId, action: 'VIEW' },
      headers: authorization === null ? {} : { authorization },
    });

  const unsigned = (claims: object) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  const hs256 = (claims: object, secret: string) => {
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
  };

  test.each<[string, () => string | null]>([
    ['no Authorization header', () => null],
    ['a scheme other than Bearer', () => `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['a Bearer header with no token', () => 'Bearer'],
    ['garbage instead of a token', () => 'Bearer not.a.token'],
    ['a token signed with another secret', () => `Bearer ${jwt.sign({ sub: 'u1' }, 'another-secret')}`],
    ['alg: none', () => `Bearer ${unsigned({ sub: 'u1', exp: now() + 60 })}`],
    ['an expired token', () => `Bearer ${stack.token({ sub: 'u1', exp: now() - 10 })}`],
    ['a token not valid yet', () => `Bearer ${stack.token({ sub: 'u1', nbf: now() + 600 })}`],
    ['a token without sub', () => `Bearer ${hs256({ roles: ['admin'], exp: now() + 60 }, stack.config.jwt.secret)}`],
    ['an empty sub', () => `Bearer ${stack.token({ sub: '' })}`],
    ['a numeric sub', () => `Bearer ${hs256({ sub: 42, exp: now() + 60 }, stack.config.jwt.secret)}`],
    ['roles that are not an array of strings', () => `Bearer ${stack.token({ roles: 'admin' })}`],
    ['a sub with a NUL byte (could never be stored)', () => `Bearer ${stack.token({ sub: 'nul\u0000user' })}`],
    ['a sub with a lone surrogate', () => `Bearer ${stack.token({ sub: 'sur\ud800x' })}`],
    [
      'a token issued an hour ahead (iat)',
      () => `Bearer ${hs256({ sub: 'u1', iat: now() + 3600, exp: now() + 7200 }, stack.config.jwt.secret)}`,
    ],
    ['a sub longer than 255 characters', () => `Bearer ${stack.token({ sub: 'u'.repeat(256) })}`],
    ['a validly signed token of 8 kB', () => `Bearer ${stack.token({ sub: 'u1', padding: 'x'.repeat(8000) })}`],
    [
      'an HS256 token whose secret is an RSA public key (key confusion)',
      () => {
        const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return `Bearer ${hs256({ sub: 'u1', exp: now() + 60 }, publicKey.export({ type: 'spki', format: 'pem' }) as string)}`;
      },
    ],
    [
      'an RS256 token (algorithm confusion)',
      () => {
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return `Bearer ${jwt.sign({ sub: 'u1' }, privateKey, { algorithm: 'RS256' })}`;
      },
    ],
  ])('%s is a 401', async (_name, header) => {
    const res = await postWith(header());
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  test('the message tells an expired token apart', async () => {
    const res = await postWith(`Bearer ${stack.token({ exp: now() - 10 })}`);
    expect(res.body.error.message).toBe('The token has expired');
  });

  test('a valid token is accepted', async () => {
    const res = await postWith(`Bearer ${stack.token()}`);
    expect(res.status).toBe(202);
  });

  test('a token accepted before is not accepted past its exp, nor one that differs from it in any character', async () => {
    const token = stack.token({ sub: 'u-remembered', exp: now() + 2 });
    expect((await postWith(`Bearer ${token}`)).status).toBe(202);
    expect((await postWith(`Bearer ${token}`)).status).toBe(202); // remembered
    const [head, claims, signature] = token.split('.');
    const forged = `${head}.${b64({ ...JSON.parse(Buffer.from(claims!, 'base64url').toString()), sub: 'someone-else' })}.${signature}`;
    expect((await postWith(`Bearer ${forged}`)).status).toBe(401);

    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(await postWith(`Bearer ${token}`)).toMatchObject({ status: 401, body: { error: { message: 'The token has expired' } } });
  });

  test('health probes need no token', async () => {
    expect((await stack.request('GET', '/healthz', { token: null })).status).toBe(200);
    const ready = await stack.request('GET', '/readyz', { token: null });
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready', database: true, redis: true } });
  });
});

describe('tokens without an expiry', () => {
  let strict: Stack;
  let lenient: Stack;
  const events = new Map<Stack, string>();
  beforeAll(async () => {
    [strict, lenient] = await Promise.all([
      startStack({ worker: false, env: { JWT_REQUIRE_EXP: 'true' } }),
      startStack({ worker: false, env: { JWT_REQUIRE_EXP: 'false' } }),
    ]);
    for (const stack of [strict, lenient]) events.set(stack, (await buildEvent(stack.db)).id);
  });
  afterAll(() => Promise.all([strict.stop(), lenient.stop()]));

  const post = (stack: Stack, claims: object) =>
    stack.request('POST', '/interactions', {
      token: null,
      body: { eventId: events.get(stack), action: 'VIEW' },
      headers: { authorization: `Bearer ${jwt.sign(claims, stack.config.jwt.secret)}` },
    });

  test('are refused while JWT_REQUIRE_EXP is on (the default in production), every time they are sent', async () => {
    for (let i = 0; i < 2; i += 1) {
      expect(await post(strict, { sub: 'u-no-exp' })).toMatchObject({
        status: 401,
        body: { error: { message: 'The token has no expiry (exp)' } },
      });
    }
    expect((await post(strict, { sub: 'u-exp', exp: now() + 60 })).status).toBe(202);
  });

  test('are accepted where the setting allows them', async () => {
    expect((await post(lenient, { sub: 'u-no-exp' })).status).toBe(202);
  });

  test('a clock a little ahead is tolerated (iat up to a minute ahead)', async () => {
    expect((await post(strict, { sub: 'u-skew', iat: now() + 30, exp: now() + 600 })).status).toBe(202);
  });
});

describe('authentication with an issuer and an audience configured', () => {
  let stack: Stack;
  let eventId: string;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'interactions' } });
    eventId = (await buildEvent(stack.db)).id;
  });
  afterAll(() => stack.stop());

  const post = (options: jwt.SignOptions) =>
    stack.request('POST', '/interactions', { token: stack.token({}, options), body: { eventId, action: 'VIEW' } });

  test('the right issuer and audience are accepted', async () => {
    expect((await post({ issuer: 'https://auth.example', audience: 'interactions' })).status).toBe(202);
  });

  test.each<[string, jwt.SignOptions]>([
    ['a wrong issuer', { issuer: 'https://evil.example', audience: 'interactions' }],
    ['a wrong audience', { issuer: 'https://auth.example', audience: 'billing' }],
    ['no issuer and no audience', {}],
  ])('%s is a 401', async (_name, options) => {
    expect((await post(options)).status).toBe(401);
  });
});
