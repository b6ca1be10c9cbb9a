import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { waitForInteractions } from './helpers/db';
import { buildEvent } from './helpers/factories';
import { startStack, type Stack } from './helpers/stack';
import { sleep } from './helpers/wait';

const BODY_TIMEOUT_MS = 4000;

interface Upload {
  /** With a Content-Length (the plain ingest path), or chunked (Express). */
  framing: 'length' | 'chunked';
  /** The body's bytes in the pieces they are sent in, with a pause before each but the first. */
  pieces: Buffer[];
  pauseMs: number;
  /** Stop before the last piece and never send it. */
  stall?: boolean;
}

/** A request whose body arrives as slowly as an upload over a poor link; its answer and whether the server closed the connection. */
function upload(stack: Stack, path: string, token: string, { framing, pieces, pauseMs, stall }: Upload) {
  const length = pieces.reduce((n, piece) => n + piece.length, 0);
  return new Promise<{ status: number; body: any; closed: boolean }>((resolve, reject) => {
    const req = request(`${stack.baseUrl}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(framing === 'length' ? { 'content-length': String(length) } : { 'transfer-encoding': 'chunked' }),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), closed: res.headers.connection === 'close' }));
    });
    void (async () => {
      for (const [i, piece] of pieces.entries()) {
        if (i > 0) await sleep(pauseMs);
        if (stall && i === pieces.length - 1) return;
        if (!req.destroyed) req.write(piece);
      }
      req.end();
    })();
  });
}

/** `bytes` cut into `count` pieces. */
const cut = (bytes: Buffer, count: number) => {
  const size = Math.ceil(bytes.length / count);
  return Array.from({ length: count }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
};

describe.each(['length', 'chunked'] as const)('a slow upload (%s)', (framing) => {
  let stack: Stack;
  let eventId: string;
  beforeAll(async () => {
    stack = await startStack({ env: { BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) } });
    eventId = (await buildEvent(stack.db)).id;
  });
  afterAll(() => stack.stop());

  test('an interaction whose body takes 1.75 s, longer than the Redis deadline, is accepted and stored', async () => {
    const userId = `user-${randomUUID()}`;
    const body = Buffer.from(JSON.stringify({ eventId, action: 'SAVE' }));
    const res = await upload(stack, '/interactions', stack.token({ sub: userId }), { framing, pieces: cut(body, 2), pauseMs: 1750 });
    expect(res).toMatchObject({ status: 202, body: { status: 'queued' } });
    await waitForInteractions(stack.db, userId, 1);
  });

  test('a batch of 500 over a 40 kB/s link is accepted whole', async () => {
    const userId = `user-${randomUUID()}`;
    const interactions = Array.from({ length: 500 }, () => ({ eventId, action: 'VIEW', idempotencyKey: randomUUID() }));
    const body = Buffer.from(JSON.stringify({ interactions }));
    const pieces = cut(body, Math.ceil(body.length / 4000)); // 4 kB every 100 ms
    const res = await upload(stack, '/interactions/batch', stack.token({ sub: userId }), { framing, pieces, pauseMs: 100 });
    expect(res.status).toBe(200);
    expect(res.body.results.filter((r: { status: number }) => r.status === 202)).toHaveLength(500);
    await waitForInteractions(stack.db, userId, 500);
  });

  test.each(['/interactions', '/interactions/batch'])(
    'a body on %s that never ends is answered 408 after BODY_TIMEOUT_MS, the connection closed, nothing recorded',
    async (path) => {
      const userId = `user-${randomUUID()}`;
      const body = Buffer.from(
        JSON.stringify(path === '/interactions' ? { eventId, action: 'SAVE' } : { interactions: [{ eventId, action: 'SAVE' }] }),
      );
      const started = Date.now();
      const res = await upload(stack, path, stack.token({ sub: userId }), { framing, pieces: cut(body, 2), pauseMs: 0, stall: true });
      expect(res).toEqual({ status: 408, body: { error: { code: 'request_timeout', message: expect.any(String) } }, closed: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
      await sleep(500);
      expect(await stack.db('interactions').where({ user_id: userId }).count({ n: '*' })).toEqual([{ n: '0' }]);
    },
  );
});
