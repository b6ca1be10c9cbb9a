import { QueueEvents } from 'bullmq';
import { loadConfig } from '../../src/config';
import { QUEUES } from '../../src/jobs/definitions';
import { buildEvent } from '../helpers/factories';
import { makeUsers } from '../helpers/load';
import { expectModelToEqualRebuild } from '../helpers/model';
import { TestRedis } from '../helpers/redis-server';
import { expectRowsToBe, startService, waitUntilDrained, type Service } from '../helpers/service';
import { sleep, waitFor } from '../helpers/wait';

// A crashed worker's jobs go back to the queue once their claim lapses: 2 s here rather than 30 s.
const FAST_REDELIVERY = { WORKER_LOCK_MS: '2000' };

async function someEvents(service: Service, n: number): Promise<string[]> {
  const events = [];
  for (let i = 0; i < n; i += 1) {
    events.push(
      await buildEvent(service.db, {
        category: ['jazz', 'techno', 'folk'][i % 3],
        tags: [`t${i % 5}`],
        city: ['Berlin', 'Hamburg'][i % 2],
        kind: i % 4 ? 'event' : 'gig',
      }),
    );
  }
  return events.map((e) => e.id);
}

const rowCount = async (service: Service) => Number((await service.db('interactions').count({ n: '*' }))[0]!.n);

describe('processes killed with SIGKILL', () => {
  let service: Service | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  test('the worker, killed four times at random moments while draining 20,000 interactions: every 202 is one row, and the model equals a rebuild', async () => {
    service = await startService({ env: FAST_REDELIVERY });
    await service.start('web');
    const eventIds = await someEvents(service, 40);
    const load = service.load({ users: makeUsers(300, service.token), eventIds, clients: 32, total: 20_000 });
    await load.finished;
    expect(load.attempts).toEqual({ '202': load.accepted.size });
    const total = load.accepted.size;
    // Jobs claimed by a dead worker and delivered again, as the queue reports them (completed jobs
    // are trimmed, so they cannot tell afterwards).
    const events = new QueueEvents(QUEUES.interactions, { connection: { url: service.env.REDIS_URL }, prefix: service.env.QUEUE_PREFIX });
    const redeliveredJobs = new Set<string>();
    events.on('stalled', ({ jobId }) => redeliveredJobs.add(jobId));
    await events.waitUntilReady();

    // One kill in each of the first four fifths of the drain, at a random point of it.
    const killedAt: number[] = [];
    for (let fifth = 0; fifth < 4; fifth += 1) {
      await service.start('worker');
      const target = Math.floor((total * (fifth + 0.2 + 0.6 * Math.random())) / 5);
      await waitFor(`${target} rows`, async () => (await rowCount(service!)) >= target, 120_000);
      await service.crash('worker');
      killedAt.push(await rowCount(service));
    }
    expect(killedAt.every((n) => n > 0 && n < total)).toBe(true);

    await service.start('worker');
    await waitUntilDrained(service);
    await expectRowsToBe(service, load.accepted.keys());
    expect(await service.queue.getFailedCount()).toBe(0);
    // The kills left jobs claimed by a dead worker, and they were delivered again.
    await events.close();
    const redelivered = redeliveredJobs.size;
    expect(redelivered).toBeGreaterThan(0);
    console.info(`worker SIGKILLed at ${killedAt.join(', ')} of ${total} rows; ${redelivered} jobs redelivered; 0 lost, 0 doubled`);
    await expectModelToEqualRebuild(service.db, loadConfig(service.env).model);
  }, 300_000);

  test('the web process, killed three times under load: every interaction the clients were answered 202 is one row', async () => {
    service = await startService({ env: FAST_REDELIVERY });
    await service.start('web');
    await service.start('worker');
    const eventIds = await someEvents(service, 20);
    const load = service.load({ users: makeUsers(100, service.token), eventIds, clients: 16 });

    for (let crash = 0; crash < 3; crash += 1) {
      const before = load.accepted.size;
      await waitFor('some more load', async () => load.accepted.size > before + 500 + Math.random() * 1500, 60_000);
      await service.crash('web');
      await sleep(Math.random() * 500);
      await service.start('web');
    }
    const before = load.accepted.size;
    await waitFor('the clients to be answered again', async () => load.accepted.size > before + 500, 60_000);
    await load.stop();

    // The clients felt the crashes (their connections were cut or refused) and retried.
    const { '202': ok, ...failures } = load.attempts;
    expect(ok).toBeGreaterThan(0);
    expect(Object.keys(failures).length).toBeGreaterThan(0);
    expect(Object.keys(failures).filter((outcome) => /^\d+$/.test(outcome))).toEqual([]); // no HTTP error at all
    expect(load.abandoned).toBe(0);

    await waitUntilDrained(service);
    await expectRowsToBe(service, load.accepted.keys());
    await expectModelToEqualRebuild(service.db, loadConfig(service.env).model);
    console.info(`web SIGKILLed 3 times: ${load.accepted.size} accepted, attempts ${JSON.stringify(load.attempts)}; 0 lost, 0 doubled`);
  }, 300_000);

  test('the web process killed between committing a collection add or a gig application and relaying it: the SAVE and the APPLY land once', async () => {
    // Persistent, as in production: what the relay queued survives the Redis crash below.
    const redis = await TestRedis.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    try {
      const admin = { ADMIN_USERNAME: 'ops', ADMIN_PASSWORD: 'fault-test-password' };
      service = await startService({ redisUrl: redis.url, env: { ...FAST_REDELIVERY, ...admin } });
      await service.start('web');
      const [eventId] = await someEvents(service, 1);
      const gig = await buildEvent(service.db, { kind: 'gig' });
      const userId = 'user-outbox-crash';
      const headers = { authorization: `Bearer ${service.token(userId)}`, 'content-type': 'application/json' };
      const post = (path: string, body: unknown) =>
        fetch(`${service!.webUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      const collection = (await (await post('/collections', { name: 'Crash' })).json()) as { id: string };

      // Redis stalls: the application commits, and the relay's enqueue is still in flight (it
      // reaches Redis only after the process that sent it is dead).
      redis.pause();
      expect((await post(`/gigs/${gig.id}/applications`, {})).status).toBe(201);
      await service.crash('web');
      redis.resume();

      // Redis is down: the collection add commits, and the relay cannot enqueue before the crash.
      await service.start('web');
      await redis.kill();
      expect((await post(`/collections/${collection.id}/events`, { eventId })).status).toBe(201);
      const basic = `Basic ${Buffer.from(`${admin.ADMIN_USERNAME}:${admin.ADMIN_PASSWORD}`).toString('base64')}`;
      await waitFor('the relay to try and fail', async () => {
        const metrics = await (await fetch(`${service!.webUrl}/metrics`, { headers: { authorization: basic } })).text();
        return /^outbox_relay_failures_total\{[^}]*\} [1-9]/m.test(metrics);
      });
      await service.crash('web');
      await redis.restart();

      // The worker process's relay finds what the dead ones left in the outbox.
      await service.start('worker');
      await waitFor('the outbox to empty', async () => Number((await service!.db('outbox').count({ n: '*' }))[0]!.n) === 0, 30_000);
      await waitUntilDrained(service);
      await sleep(500);
      const rows = await service.db('interactions').where({ userId }).orderBy('action');
      expect(rows.map((r: { action: string; source: string }) => [r.action, r.source])).toEqual([
        ['APPLY', 'gig_application'],
        ['SAVE', 'collection'],
      ]);
      expect(await service.db('userEventScores').where({ userId }).orderBy('score')).toMatchObject([{ score: 5 }, { score: 8 }]);
    } finally {
      redis.resume();
      await service?.stop();
      service = undefined;
      await redis.stop();
    }
  }, 120_000);
});
