import { randomUUID } from 'node:crypto';
import { OutboxRelay } from '../src/jobs/outbox';
import { recordInteractionInTransaction } from '../src/domain/record-interaction';
import { createLogger } from '../src/ops/logger';
import { buildEvent } from './helpers/factories';
import { interactionsOf, scoreOf, waitForInteractions } from './helpers/db';
import { TestRedis } from './helpers/redis-server';
import { startStack, type Stack } from './helpers/stack';
import { sleep, waitFor } from './helpers/wait';

const logger = createLogger({ level: 'silent', name: 'test' });
const outboxRows = (stack: Stack, userId: string) => stack.db('outbox').whereRaw("payload->'interactions'->0->>'userId' = ?", [userId]);

describe('the outbox: nothing lost, nothing doubled', () => {
  test('with Redis down during the request, the handler answers 201 and the SAVE lands once Redis is back', async () => {
    const redis = await TestRedis.start();
    const stack = await startStack({ env: { REDIS_URL: redis.url }, ownDatabase: true });
    try {
      const userId = `user-${randomUUID()}`;
      const token = stack.token({ sub: userId });
      const event = await buildEvent(stack.db);
      const { body: collection } = await stack.request('POST', '/collections', { token, body: { name: 'Offline' } });

      await redis.kill();
      const res = await stack.request('POST', `/collections/${collection.id}/events`, { token, body: { eventId: event.id } });
      expect(res.status).toBe(201);
      expect(await outboxRows(stack, userId)).toHaveLength(1);
      // Ops see the relay failing, not only the rows piling up.
      await waitFor(
        'the relay to count its failure',
        async () => ((await stack.metrics.outboxRelayFailures.get()).values[0]?.value ?? 0) > 0,
      );

      await redis.restart();
      const [row] = await waitForInteractions(stack.db, userId, 1);
      expect(row).toMatchObject({ action: 'SAVE', source: 'collection', eventId: event.id });
      await waitFor('the outbox to empty', async () => (await outboxRows(stack, userId)).length === 0);
    } finally {
      await stack.stop();
      await redis.stop();
    }
  });

  describe('with the relay of the web process out of the way', () => {
    let stack: Stack;
    beforeEach(async () => {
      stack = await startStack({ relay: false, ownDatabase: true });
    });
    afterEach(() => stack.stop());

    test('a rolled-back handler transaction records nothing', async () => {
      const userId = `user-${randomUUID()}`;
      const event = await buildEvent(stack.db);

      await expect(
        stack.db.transaction(async (trx) => {
          await recordInteractionInTransaction(trx, { userId, eventId: event.id, action: 'SAVE', source: 'collection' });
          throw new Error('the handler failed after recording');
        }),
      ).rejects.toThrow('the handler failed');

      expect(await new OutboxRelay(stack.db, stack.producer, logger).relayOnce()).toBe(0);
      await sleep(500);
      expect(await interactionsOf(stack.db, userId)).toHaveLength(0);
    });

    test('a process killed right after the commit: another relay delivers the APPLY, once', async () => {
      const userId = `user-${randomUUID()}`;
      const gig = await buildEvent(stack.db, { kind: 'gig' });

      const res = await stack.request('POST', `/gigs/${gig.id}/applications`, { token: stack.token({ sub: userId }), body: {} });
      expect(res.status).toBe(201);
      await sleep(500);
      expect(await interactionsOf(stack.db, userId)).toHaveLength(0); // committed, not yet relayed
      expect(await outboxRows(stack, userId)).toHaveLength(1);

      const survivor = new OutboxRelay(stack.db, stack.producer, logger); // e.g. the worker process's
      expect(await survivor.relayOnce()).toBe(1);

      const [row] = await waitForInteractions(stack.db, userId, 1);
      expect(row).toMatchObject({ action: 'APPLY', source: 'gig_application', eventId: gig.id });
    });

    test('a relay that delivers twice (it died between the enqueue and the delete) leaves one row and one score', async () => {
      const userId = `user-${randomUUID()}`;
      const event = await buildEvent(stack.db);
      const token = stack.token({ sub: userId });
      const { body: collection } = await stack.request('POST', '/collections', { token, body: { name: 'Twice' } });
      await stack.request('POST', `/collections/${collection.id}/events`, { token, body: { eventId: event.id } });
      const [pending] = await outboxRows(stack, userId);
      const relay = new OutboxRelay(stack.db, stack.producer, logger);

      await relay.relayOnce();
      await waitForInteractions(stack.db, userId, 1);
      // The row commits a moment before the job is marked completed; an active job is not removed.
      await waitFor('the first delivery to complete', async () => (await stack.producer.queue.getJobState(pending.jobId)) === 'completed');
      // The delete "never happened": the same row is in the outbox again and is relayed again.
      await stack.db('outbox').insert({ jobName: pending.jobName, jobId: pending.jobId, payload: pending.payload });
      expect(await stack.producer.queue.remove(pending.jobId)).toBe(1); // as if the first job had already been trimmed
      expect(await relay.relayOnce()).toBe(1);
      await waitFor('the second delivery to be processed', async () => (await stack.producer.queue.getJob(pending.jobId))?.finishedOn);

      expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
      expect(await scoreOf(stack.db, userId, event.id)).toMatchObject({ score: 5, interactionCount: 1 });
    });

    test('relays running side by side deliver every row exactly once', async () => {
      const userId = `user-${randomUUID()}`;
      const event = await buildEvent(stack.db);
      for (let i = 0; i < 40; i += 1) {
        await stack.db.transaction((trx) =>
          recordInteractionInTransaction(trx, { userId, eventId: event.id, action: 'VIEW', source: 'collection' }),
        );
      }
      const relays = [0, 1, 2].map(() => new OutboxRelay(stack.db, stack.producer, logger, { batchSize: 5 }));

      const moved = await Promise.all(
        relays.map(async (relay) => {
          let total = 0;
          for (let n = await relay.relayOnce(); n > 0; n = await relay.relayOnce()) total += n;
          return total;
        }),
      );

      expect(moved.reduce((a, b) => a + b, 0)).toBe(40);
      expect(await waitForInteractions(stack.db, userId, 40)).toHaveLength(40);
      await sleep(300);
      expect(await interactionsOf(stack.db, userId)).toHaveLength(40);
    });
  });
});
