import { connect } from 'node:net';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import type { Db } from '../src/data/db';
import { InteractionModel } from '../src/data/models';
import { buildEvent } from './helpers/factories';
import { TestRedis } from './helpers/redis-server';
import { startService, type Service } from './helpers/service';
import { sleep, waitFor } from './helpers/wait';

const ADMIN_PASSWORD = 'process-test-admin-password';
const basic = `Basic ${Buffer.from(`ops:${ADMIN_PASSWORD}`).toString('base64')}`;

/** The web and worker entry points as separate processes, as in production. */
describe('the web and worker processes', () => {
  let service: Service;
  let env: Record<string, string>;
  let db: Db;

  beforeEach(async () => {
    service = await startService({
      env: { ADMIN_USERNAME: 'ops', ADMIN_PASSWORD, LOG_LEVEL: 'debug', SHUTDOWN_TIMEOUT_MS: '20000' },
    });
    ({ env, db } = service);
  });
  afterEach(() => service.stop());

  const post = (token: string, body: unknown) =>
    fetch(`${service.webUrl}/interactions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  test('the worker serves health and metrics on its own port, and logs every job line with its job id and no secret', async () => {
    const [web, worker] = [await service.start('web'), await service.start('worker')];
    const event = await buildEvent(db);
    const token = service.token(`user-${randomUUID()}`);
    const { id } = (await (await post(token, { eventId: event.id, action: 'SAVE' })).json()) as { id: string };
    await waitFor('the row', async () => InteractionModel.query(db).findById(id));

    const workerUrl = `http://127.0.0.1:${env.WORKER_PORT}`;
    expect((await fetch(`${workerUrl}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${workerUrl}/readyz`)).json()).toEqual({ status: 'ready', database: true, redis: true, migrations: true });
    expect((await fetch(`${workerUrl}/metrics`)).status).toBe(401);
    const metrics = await waitFor('the job metrics', async () => {
      const text = await (await fetch(`${workerUrl}/metrics`, { headers: { authorization: basic } })).text();
      return /job_duration_seconds_count\{[^}]*job_name="interaction.batch"[^}]*outcome="completed"[^}]*\} [1-9]/.test(text)
        ? text
        : undefined;
    });
    expect(metrics).toMatch(/interaction_persist_lag_seconds_count\{[^}]*\} [1-9]/);

    const workerLines = worker.logLines();
    const jobLines = workerLines.filter((line) => line.msg === 'interactions persisted');
    expect(jobLines).toContainEqual(
      expect.objectContaining({ jobId: expect.stringMatching(/^[0-9a-f-]{36}$/), jobName: 'interaction.batch', inserted: 1 }),
    );
    const webLines = web.logLines() as { req?: { id?: string; headers?: Record<string, string> } }[];
    expect(webLines.some((line) => line.req?.headers?.authorization === '[redacted]' && line.req.id)).toBe(true);
    for (const text of [web.output(), worker.output()]) {
      expect(text).not.toContain(env.JWT_SECRET);
      expect(text).not.toContain(token);
      expect(text).not.toContain(ADMIN_PASSWORD);
    }
  }, 60_000);

  test('SIGTERM under load: the web process finishes what it accepted, resets nothing, exits 0, and every 202 lands', async () => {
    const [web] = [await service.start('web'), await service.start('worker')];
    const event = await buildEvent(db);
    const userId = `user-${randomUUID()}`;
    const token = service.token(userId);
    const accepted: string[] = [];
    const outcomes = { accepted: 0, cutOff: 0, other: [] as string[] };
    let stopAt = Date.now() + 20_000;
    // The load balancer: it polls /readyz and routes no new request to a process that fails it.
    let routing = true;
    const balancer = (async () => {
      while (routing && Date.now() < stopAt) {
        const ready = await fetch(`http://127.0.0.1:${env.PORT}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ready) await sleep(100);
        else routing = false;
      }
    })();

    const client = async () => {
      while (routing && Date.now() < stopAt) {
        try {
          const res = await post(token, { eventId: event.id, action: 'VIEW' });
          if (res.status === 202) {
            accepted.push(((await res.json()) as { id: string }).id);
            outcomes.accepted += 1;
          } else outcomes.other.push(String(res.status));
        } catch (error) {
          outcomes.cutOff += 1;
          outcomes.other.push((error as { cause?: { code?: string } }).cause?.code ?? String(error));
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    await waitFor('some load', async () => outcomes.accepted > 200);
    web.child.kill('SIGTERM');
    expect(await web.exited).toBe(0);
    stopAt = Date.now();
    await Promise.all([...clients, balancer]);

    expect({ cutOff: outcomes.cutOff, other: outcomes.other }).toEqual({ cutOff: 0, other: [] });
    await waitFor(
      `all ${accepted.length} accepted rows`,
      async () => (await InteractionModel.query(db).whereIn('id', accepted)).length === accepted.length,
      30_000,
    );
    expect(await InteractionModel.query(db).where({ userId })).toHaveLength(accepted.length);
  }, 90_000);

  test('SIGTERM under load: the worker finishes the jobs in hand, exits 0, and a new worker carries on with nothing lost or doubled', async () => {
    await service.start('web');
    const event = await buildEvent(db);
    const userId = `user-${randomUUID()}`;
    const token = service.token(userId);
    const accepted: string[] = [];
    // One at a time, so each is a job of its own; the worker takes one job at a time, so that it is
    // stopped part-way through the backlog however fast it writes.
    for (let i = 0; i < 400; i += 1) {
      const res = await post(token, { eventId: event.id, action: 'CLICK' });
      accepted.push(((await res.json()) as { id: string }).id);
    }

    const worker = await service.start('worker', { WORKER_CONCURRENCY: '1' });
    await waitFor('the worker to be busy', async () => (await InteractionModel.query(db).where({ userId })).length > 50);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const afterStop = (await InteractionModel.query(db).where({ userId })).length;
    expect(afterStop).toBeLessThan(accepted.length); // it stopped mid-way, for the test to mean something

    await service.start('worker');
    await waitFor('every row', async () => (await InteractionModel.query(db).where({ userId })).length >= accepted.length, 30_000);
    await sleep(300);
    const rows = await InteractionModel.query(db).where({ userId });
    expect(rows.map((r) => r.id).sort()).toEqual([...accepted].sort());
    const [score] = await db('userEventScores').where({ userId, eventId: event.id });
    expect(score).toMatchObject({ score: 3 * accepted.length, interactionCount: accepted.length });
  }, 90_000);

  test('a client that drips its headers (slow loris) is cut off with a 408 after 10 s, not left holding the connection', async () => {
    await service.start('web');
    const socket = connect(Number(env.PORT), '127.0.0.1');
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    const started = Date.now();
    socket.write('POST /interactions HTTP/1.1\r\nHost: localhost\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X-Slow: a\r\n'), 500);
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    await once(socket, 'close');
    clearInterval(drip);

    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(14_000); // Node's own check would allow up to 40 s
  }, 30_000);

  test('bodies refused with something left to throw leave the web process running', async () => {
    const web = await service.start('web');
    const send = (encoding: string, body: Buffer) =>
      fetch(`${service.webUrl}/interactions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${service.token(`user-${randomUUID()}`)}`,
          'content-type': 'application/json',
          'content-encoding': encoding,
        },
        body,
      });
    // An encoding named like what every object has, which a lookup in an object would find.
    expect((await send('constructor', Buffer.from('{"eventId":"x","action":"VIEW"}'))).status).toBe(415);
    // Over the limit once decoded, and corrupt after that: the decoder goes on with what it holds.
    expect((await send('gzip', Buffer.concat([gzipSync(Buffer.alloc(200_000, ' ')), Buffer.from('xx')]))).status).toBe(413);
    await sleep(500);
    expect(web.child.exitCode).toBeNull();
    expect((await fetch(`${service.webUrl}/healthz`)).status).toBe(200);
  });

  test('an upload that takes 16 s, within BODY_TIMEOUT_MS (30 s), is accepted by the web process', async () => {
    await service.start('web');
    const event = await buildEvent(db);
    const body = Buffer.from(JSON.stringify({ eventId: event.id, action: 'SAVE' }));
    const socket = connect(Number(env.PORT), '127.0.0.1');
    await once(socket, 'connect');
    const head = [
      'POST /interactions HTTP/1.1',
      'Host: localhost',
      `Authorization: Bearer ${service.token(`user-${randomUUID()}`)}`,
      'Content-Type: application/json',
      `Content-Length: ${body.length}`,
    ];
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    for (let i = 0; i < body.length; i += 8) {
      await sleep((16_000 * 8) / body.length);
      socket.write(body.subarray(i, i + 8));
    }
    await waitFor('the answer', async () => received.includes('\r\n\r\n{'));
    socket.destroy();
    expect(received).toMatch(/^HTTP\/1\.1 202/);
  }, 40_000);

  test('SIGTERM with Redis gone: the worker does not wait for it, and exits 0', async () => {
    const redis = await TestRedis.start();
    try {
      const worker = await service.start('worker', { REDIS_URL: redis.url });
      await redis.kill();
      await sleep(300);
      const asked = Date.now();
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(Date.now() - asked).toBeLessThan(10_000);
    } finally {
      await redis.stop();
    }
  }, 60_000);
});
