import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { COMPLETED_INTERACTIONS_KEPT, JOBS, LEGACY_RECORD_INTERACTION, MAX_INTERACTIONS_PER_JOB } from '../src/jobs/definitions';
import { processJob } from '../src/jobs/interaction-worker';
import { signJob } from '../src/jobs/signature';
import { currentVersions } from '../src/feed/versions';
import { createLogger } from '../src/ops/logger';
import { buildEvent, interactionPayload, recordingJob } from './helpers/factories';
import { interactionsOf, scoreOf, waitForInteractions } from './helpers/db';
import { startStack, type Stack } from './helpers/stack';
import { jobCarrying, sleep, waitFor } from './helpers/wait';

describe('POST /interactions through the worker to PostgreSQL', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  const post = (userId: string, body: unknown) => stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body });

  test('S-INT-1: a VIEW is answered 202 and becomes a row for the token user, the event and VIEW', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;

    const res = await post(userId, { eventId: event.id, action: 'VIEW' });

    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), eventId: event.id, action: 'VIEW', status: 'queued' });
    expect(res.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const [row] = await waitForInteractions(stack.db, userId, 1);
    expect(row).toMatchObject({ id: res.body.id, userId, eventId: event.id, action: 'VIEW', source: 'api' });
  });

  test('a DISMISS is recorded as its own row and drives the pair score below zero', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;

    await post(userId, { eventId: event.id, action: 'VIEW' });
    await post(userId, { eventId: event.id, action: 'SAVE' });
    await post(userId, { eventId: event.id, action: 'DISMISS' });

    const rows = await waitForInteractions(stack.db, userId, 3);
    expect(rows.map((r) => r.action)).toEqual(['VIEW', 'SAVE', 'DISMISS']);
    const score = await scoreOf(stack.db, userId, event.id);
    expect(score).toMatchObject({ score: 1 + 5 - 10, interactionCount: 3 });
  });

  test('S-INT-3: viewing twice leaves two rows with two ordered timestamps', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;

    const [first, second] = await Promise.all([
      post(userId, { eventId: event.id, action: 'VIEW' }),
      post(userId, { eventId: event.id, action: 'VIEW' }),
    ]);

    expect([first!.status, second!.status]).toEqual([202, 202]);
    const rows = await waitForInteractions(stack.db, userId, 2);
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set([first!.body.id, second!.body.id]));
    // Compared in PostgreSQL: a JS Date would drop the microseconds that separate them.
    const { rows: stamps } = await stack.db.raw<{ rows: { distinct: string; ordered: boolean }[] }>(
      `select count(distinct created_at)::text as distinct,
              bool_and(created_at < lead_at) filter (where lead_at is not null) as ordered
         from (select created_at, lead(created_at) over (order by id) as lead_at from interactions where user_id = ?) t`,
      [userId],
    );
    expect(stamps[0]).toEqual({ distinct: '2', ordered: true });
    expect(await scoreOf(stack.db, userId, event.id)).toMatchObject({ score: 2, interactionCount: 2 });
  });

  test('the score adds each action with its weight', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;

    for (const action of ['VIEW', 'CLICK', 'SAVE', 'APPLY']) await post(userId, { eventId: event.id, action });

    await waitForInteractions(stack.db, userId, 4);
    expect(await scoreOf(stack.db, userId, event.id)).toMatchObject({ score: 1 + 3 + 5 + 8, interactionCount: 4 });
  });

  test('a userId in the body never overrides the token', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const victim = `victim-${randomUUID()}`;

    const res = await post(userId, { eventId: event.id, action: 'SAVE', userId: victim });

    expect(res.status).toBe(202);
    await waitForInteractions(stack.db, userId, 1);
    expect(await interactionsOf(stack.db, victim)).toHaveLength(0);
  });

  test('a job delivered twice leaves one row and adds its weight once', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const res = await post(userId, { eventId: event.id, action: 'SAVE' });
    await waitForInteractions(stack.db, userId, 1);
    const original = await jobCarrying(stack.producer.queue, res.body.id);
    expect(original?.data.interactions).toEqual([expect.objectContaining({ id: res.body.id })]);

    // The same payload again through the real queue and worker, as a stalled-job redelivery would.
    const again = await stack.producer.queue.add(original!.name, original!.data, { jobId: `${res.body.id}-again` });
    await waitFor('the redelivered job to complete', async () => (await again.getState()) === 'completed');

    expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
    expect(await scoreOf(stack.db, userId, event.id)).toMatchObject({ score: 5, interactionCount: 1 });
    expect(await again.getState()).toBe('completed');
    expect((await stack.producer.queue.getJob(again.id!))?.returnvalue).toEqual({ inserted: 0, duplicates: 1 });
  });

  test('a job queued under the old single-interaction name is recorded as a batch of one; processing it twice changes nothing the second time', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const job = {
      id: 'direct',
      name: LEGACY_RECORD_INTERACTION,
      data: stack.producer.signed(LEGACY_RECORD_INTERACTION, {
        id: uuidv7(),
        userId,
        eventId: event.id,
        action: 'CLICK',
        source: 'api',
        acceptedAt: new Date().toISOString().replace('Z', '000Z'),
      }),
    };
    const deps = { config: stack.config, db: stack.db, logger: createLogger({ level: 'silent', name: 'test' }) };

    expect(await processJob(deps, job)).toEqual({ inserted: 1, duplicates: 0 });
    expect(await processJob(deps, job)).toEqual({ inserted: 0, duplicates: 1 });

    expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
    expect(await scoreOf(stack.db, userId, event.id)).toMatchObject({ score: 3, interactionCount: 1 });
  });

  test("the transaction that stores a user's interactions advances their feed version, once: a redelivery does not", async () => {
    const event = await buildEvent(stack.db);
    const [userId, other] = [`user-${randomUUID()}`, `user-${randomUUID()}`];
    const logger = createLogger({ level: 'silent', name: 'test' });
    const deps = { config: stack.config, db: stack.db, logger };
    const job = (...payloads: ReturnType<typeof interactionPayload>[]) => ({
      id: 'direct',
      name: JOBS.recordInteractions,
      data: stack.producer.signed(JOBS.recordInteractions, { interactions: payloads }),
    });
    const version = async (user: string) => (await currentVersions(stack.db, user)).user;
    expect(await version(userId)).toBe('0');

    const twice = job(interactionPayload(userId, event.id, 'SAVE'), interactionPayload(userId, event.id, 'VIEW'));
    await processJob(deps, twice);
    expect(await version(userId)).toBe('1');
    await processJob(deps, twice); // delivered again: nothing stored, nothing advanced
    expect(await version(userId)).toBe('1');
    await processJob(deps, job(interactionPayload(userId, event.id, 'CLICK'), interactionPayload(other, event.id, 'VIEW')));
    expect([await version(userId), await version(other)]).toEqual(['2', '1']);
  });

  test('a malformed payload fails at once, without retries, with the reason kept on the job', async () => {
    const job = await stack.producer.queue.add(JOBS.recordInteractions, { interactions: [{ id: 'not-a-uuid', action: 'LIKE' }] } as never, {
      jobId: `bad-${randomUUID()}`,
      attempts: 5,
    });

    await waitFor('the bad job to fail', async () => (await job.getState()) === 'failed');
    const failed = await stack.producer.queue.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(/^Invalid payload: .*id.*action/);
  });
});

describe('with the worker started late', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await startStack({ worker: false });
  });
  afterEach(() => stack.stop());

  test('created_at is when the API accepted the interaction, not when the worker wrote it', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const res = await stack.request('POST', '/interactions', {
      token: stack.token({ sub: userId }),
      body: { eventId: event.id, action: 'VIEW' },
    });
    expect(res.status).toBe(202);
    const answeredAt = Date.now();

    await sleep(300);
    expect(await interactionsOf(stack.db, userId)).toHaveLength(0); // the API itself writes nothing
    await stack.startWorker();
    const [row] = await waitForInteractions(stack.db, userId, 1);

    expect(row!.createdAt.getTime()).toBeLessThanOrEqual(answeredAt);
    expect(row!.persistedAt.getTime() - row!.createdAt.getTime()).toBeGreaterThanOrEqual(250);
  });

  test('an event removed after acceptance still gets its interaction recorded, and the job completes', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const res = await stack.request('POST', '/interactions', {
      token: stack.token({ sub: userId }),
      body: { eventId: event.id, action: 'SAVE' },
    });
    expect(res.status).toBe(202);
    await stack.db('events').where({ id: event.id }).delete();

    await stack.startWorker();

    const [row] = await waitForInteractions(stack.db, userId, 1);
    expect(row).toMatchObject({ id: res.body.id, eventId: event.id, action: 'SAVE' });
    const job = await jobCarrying(stack.producer.queue, res.body.id);
    await waitFor('the job to complete', async () => (await job?.getState()) === 'completed');
  });
});

describe('jobs that can never be stored', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  test('a value PostgreSQL refuses fails the job at once, with the reason, instead of retrying', async () => {
    const event = await buildEvent(stack.db);
    const data = {
      id: uuidv7(),
      userId: 'nul\u0000user',
      eventId: event.id,
      action: 'VIEW',
      source: 'api',
      acceptedAt: '2026-11-25T10:00:00.000000Z',
    };
    const recording = recordingJob(stack.producer, data as never);
    const job = await stack.producer.queue.add(recording.name, recording.data, {
      jobId: data.id,
      attempts: 5,
    });

    await waitFor('the job to fail', async () => (await job.getState()) === 'failed');
    const failed = await stack.producer.queue.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(/^Cannot be stored \(PostgreSQL 22/);
  });

  test('in a batch, such a row fails the job for good without holding back the others', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const payload = (user: string) => ({
      id: uuidv7(),
      userId: user,
      eventId: event.id,
      action: 'SAVE',
      source: 'api',
      acceptedAt: '2026-11-25T10:00:00.000000Z',
    });
    const [good, bad, alsoGood] = [payload(userId), payload('nul\u0000user'), payload(userId)];
    const signed = stack.producer.signed(JOBS.recordInteractions, { interactions: [good, bad, alsoGood] } as never);
    const job = await stack.producer.queue.add(JOBS.recordInteractions, signed, { attempts: 5 });

    await waitFor('the job to fail', async () => (await job.getState()) === 'failed');
    const failed = await stack.producer.queue.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(new RegExp(`^Cannot be stored \\(1 of 3\\): ${bad.id} \\(PostgreSQL 22`));
    expect((await interactionsOf(stack.db, userId)).map((row) => row.id).sort()).toEqual([good.id, alsoGood.id].sort());
    expect(await scoreOf(stack.db, userId, event.id)).toMatchObject({ score: 10, interactionCount: 2 });
  });
});

describe('Idempotency-Key', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  test("a retry with the same key gets the same id and records one row; another user's key is separate", async () => {
    const event = await buildEvent(stack.db);
    const [alice, bob] = [`user-${randomUUID()}`, `user-${randomUUID()}`];
    const send = (userId: string) =>
      stack.request('POST', '/interactions', {
        token: stack.token({ sub: userId }),
        body: { eventId: event.id, action: 'SAVE' },
        headers: { 'idempotency-key': 'save-42' },
      });

    const [first, retry] = [await send(alice), await send(alice)];
    const other = await send(bob);

    expect([first.status, retry.status, other.status]).toEqual([202, 202, 202]);
    expect(retry.body.id).toBe(first.body.id);
    expect(other.body.id).not.toBe(first.body.id);
    await waitForInteractions(stack.db, bob, 1);
    await waitFor("alice's jobs", async () => {
      const jobs = await stack.producer.queue.getJobs(['waiting', 'active', 'delayed']);
      return !jobs.some((job) => job.data.interactions?.some((i: { id: string }) => i.id === first.body.id));
    });
    expect(await interactionsOf(stack.db, alice)).toHaveLength(1);
    expect(await scoreOf(stack.db, alice, event.id)).toMatchObject({ score: 5, interactionCount: 1 });
  });

  test('the key may come in the body, as a batch item carries it: the same key as the header, one row', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const token = stack.token({ sub: userId });
    const body = { eventId: event.id, action: 'SAVE' };
    const inBody = () => stack.request('POST', '/interactions', { token, body: { ...body, idempotencyKey: 'save-7' } });
    const inHeader = () => stack.request('POST', '/interactions', { token, body, headers: { 'idempotency-key': 'save-7' } });

    const [first, retry, viaHeader] = [await inBody(), await inBody(), await inHeader()];

    expect([first.status, retry.status, viaHeader.status]).toEqual([202, 202, 202]);
    expect(retry.body.id).toBe(first.body.id);
    expect(viaHeader.body.id).toBe(first.body.id);
    await waitForInteractions(stack.db, userId, 1);
    await waitFor('the retries', async () => {
      const jobs = await stack.producer.queue.getJobs(['waiting', 'active', 'delayed']);
      return !jobs.some((job) => job.data.interactions?.some((i: { id: string }) => i.id === first.body.id));
    });
    expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
  });

  test('a body key that contradicts the header is a 400 naming both, and nothing is queued', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const res = await stack.request('POST', '/interactions', {
      token: stack.token({ sub: userId }),
      body: { eventId: event.id, action: 'SAVE', idempotencyKey: 'one' },
      headers: { 'idempotency-key': 'other' },
    });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    expect(res.body.error.message).toMatch(/idempotencyKey.*Idempotency-Key/);
    const jobs = await stack.producer.queue.getJobs(['waiting', 'active', 'delayed', 'completed']);
    expect(jobs.some((job) => job.data.interactions?.some((i: { userId: string }) => i.userId === userId))).toBe(false);
  });

  test('a malformed key is a 400', async () => {
    const event = await buildEvent(stack.db);
    const res = await stack.request('POST', '/interactions', {
      body: { eventId: event.id, action: 'SAVE' },
      headers: { 'idempotency-key': 'has space' },
    });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
  });
});

describe('jobs of another release, during a rolling deploy', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
  });
  afterAll(() => stack.stop());

  test('a job of a newer release, with a field this one does not know, is recorded with what this release knows of it', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const newer = { interactions: [{ ...interactionPayload(userId, event.id, 'SAVE'), seenOn: 'tablet' }] };
    await stack.producer.queue.add(JOBS.recordInteractions, {
      ...newer,
      sig: signJob(stack.config.jobSigningKey, JOBS.recordInteractions, newer),
    });
    await waitFor('the row', async () => (await interactionsOf(stack.db, userId)).length === 1);
    expect(await interactionsOf(stack.db, userId)).toEqual([expect.objectContaining({ id: newer.interactions[0]!.id, action: 'SAVE' })]);
  });

  test('a job whose name this release does not know is retried for a worker that does, not failed at its first try', async () => {
    const job = await stack.producer.queue.add('feed.from-a-newer-release', {}, { attempts: 3, backoff: { type: 'fixed', delay: 50 } });
    await waitFor('its tries to run out', async () => (await job.getState()) === 'failed');
    expect(await stack.producer.queue.getJob(job.id!)).toMatchObject({
      attemptsMade: 3,
      failedReason: expect.stringMatching(/^Unknown job name/),
    });
  });
});

describe('group commit', () => {
  test("a caller whose deadline has passed, or nearly, before its job is sent gets its 503 alone; the others' job goes", async () => {
    const stack = await startStack({ worker: false, ownDatabase: true });
    try {
      const event = await buildEvent(stack.db);
      const [late, nearlyLate, onTime] = [1, 2, 3].map(() => interactionPayload(`user-${randomUUID()}`, event.id, 'VIEW'));
      // Together in one turn, as requests answered at once are; two spent their time checking events.
      // With 50 ms left, a caller's deadline would be the job's: a Redis a little slow would fail
      // them all, and a job that outlives its deadline may be taken by a worker before it is withdrawn.
      const answers = await Promise.allSettled([
        stack.producer.enqueueInteractions([late!], Date.now() - 1),
        stack.producer.enqueueInteractions([nearlyLate!], Date.now() + 50),
        stack.producer.enqueueInteractions([onTime!], Date.now() + 1500),
      ]);

      expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
      expect((answers[0] as PromiseRejectedResult).reason).toMatchObject({ status: 503 });
      expect((answers[1] as PromiseRejectedResult).reason).toMatchObject({ status: 503 });
      const queued = (await stack.producer.queue.getJobs(['wait'])).flatMap((job) =>
        job.data.interactions.map((i: { id: string }) => i.id),
      );
      expect(queued).toEqual([onTime!.id]);
    } finally {
      await stack.stop();
    }
  });
});

describe('completed jobs kept in Redis', () => {
  test('are bounded by the interactions they carry, not by load: at most COMPLETED_INTERACTIONS_KEPT / MAX_INTERACTIONS_PER_JOB jobs', async () => {
    const stack = await startStack({ worker: false, ownDatabase: true });
    try {
      const event = await buildEvent(stack.db);
      const kept = COMPLETED_INTERACTIONS_KEPT / MAX_INTERACTIONS_PER_JOB;
      const userId = `user-${randomUUID()}`;
      for (let i = 0; i < kept + 40; i += 1) await stack.producer.enqueueInteractions([interactionPayload(userId, event.id, 'VIEW')]);
      await stack.startWorker();
      await waitForInteractions(stack.db, userId, kept + 40);
      await waitFor('the last job to complete', async () => (await stack.producer.queue.getJobCounts('active', 'wait')).wait === 0);
      await sleep(500);
      const completed = await stack.producer.queue.getCompletedCount();
      expect(completed).toBeGreaterThan(0);
      expect(completed).toBeLessThanOrEqual(kept);
    } finally {
      await stack.stop();
    }
  });
});
