import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { createDb } from '../src/data/db';
import { addMonthlyPartitions, ensurePartitions, isPartitioned, partitionInteractions } from '../src/data/partitioning';
import type { Action } from '../src/domain/weights';
import { createLogger } from '../src/ops/logger';
import { processJob } from '../src/jobs/interaction-worker';
import { interactionsOf } from './helpers/db';
import { buildEvent, interactionPayload, recordingJob } from './helpers/factories';
import { expectModelToEqualRebuild } from './helpers/model';
import { startStack, type Stack } from './helpers/stack';
import { waitFor } from './helpers/wait';

const DAY = 24 * 60 * 60 * 1000;

/** The service, unchanged, on `interactions` turned into monthly partitions of created_at. */
describe('interactions partitioned by month', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true, worker: false });
    // Rows from before the conversion stay where they are, in the old table.
    const before = await buildEvent(stack.db);
    await interactAt(`user-${randomUUID()}`, before.id, 'SAVE', new Date(Date.now() - 40 * DAY));
    await partitionInteractions(stack.db, new Date(), 2);
    await stack.startWorker();
  });
  afterAll(() => stack.stop());

  const logger = createLogger({ level: 'silent', name: 'test' });
  /** The worker's code path for an interaction accepted at `acceptedAt`; returns the job's data. */
  async function interactAt(userId: string, eventId: string, action: Action, acceptedAt: Date, id = uuidv7()) {
    const data = interactionPayload(userId, eventId, action, acceptedAt, id);
    await processJob({ config: stack.config, db: stack.db, logger }, { id, ...recordingJob(stack.producer, data) });
    return data;
  }
  const partitionOf = async (id: string) =>
    (
      await stack.db.raw<{ rows: { partition: string }[] }>('select tableoid::regclass::text as partition from interactions where id = ?', [
        id,
      ])
    ).rows[0]?.partition;
  const post = (userId: string, body: unknown, headers: Record<string, string> = {}) =>
    stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body, headers });

  test('interactions through the API and the worker land in the partition of their month, once each', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const first = await post(userId, { eventId: event.id, action: 'VIEW' }, { 'idempotency-key': 'k-1' });
    await waitFor('the row', async () => (await interactionsOf(stack.db, userId)).length === 1);
    // A client's retry with the same key: the same id, a later acceptance time; still one row.
    const retry = await post(userId, { eventId: event.id, action: 'VIEW' }, { 'idempotency-key': 'k-1' });
    expect(retry.body.id).toBe(first.body.id);
    await post(userId, { eventId: event.id, action: 'SAVE' });
    await waitFor('the second row', async () => (await interactionsOf(stack.db, userId)).length === 2);
    await waitFor('the queue to drain', async () => (await stack.producer.queue.getJobCounts('active', 'waiting')).waiting === 0);

    const rows = await interactionsOf(stack.db, userId);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(await partitionOf(row.id)).toBe(`interactions_${row.createdAt.toISOString().slice(0, 7).replace('-', '_')}`);
    }
  });

  test('a job delivered twice leaves one row, in the old table for a time before the partitions', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const data = await interactAt(userId, event.id, 'CLICK', new Date(Date.now() - 60 * DAY));
    await interactAt(userId, event.id, 'CLICK', new Date(data.acceptedAt), data.id);
    expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
    expect(await partitionOf(data.id)).toBe('interactions_before');
  });

  test('stays append-only in every partition', async () => {
    const month = `interactions_${new Date().toISOString().slice(0, 7).replace('-', '_')}`;
    for (const table of ['interactions', 'interactions_before', month]) {
      await expect(stack.db(table).update({ action: 'VIEW' })).rejects.toThrow(/append-only/);
      await expect(stack.db(table).delete()).rejects.toThrow(/append-only/);
      await expect(stack.db.raw(`truncate ${table}`)).rejects.toThrow(/append-only/);
    }
    expect(await stack.db('interactions_before').count({ n: '*' })).toEqual([{ n: expect.stringMatching(/^[1-9]/) }]);
  });

  test('a month without a partition yet refuses its rows (the job is retried), until the partition is added', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const later = new Date(Date.now() + 75 * DAY);
    await expect(interactAt(userId, event.id, 'VIEW', later)).rejects.toThrow(/no partition/);
    expect(await addMonthlyPartitions(stack.db, later, 1)).toHaveLength(1);
    await interactAt(userId, event.id, 'VIEW', later);
    expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
  });

  test("the worker's upkeep makes sure of this month's and the next two months' partitions; it leaves an unpartitioned table alone", async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const far = new Date(Date.now() + 200 * DAY);
    const names = await ensurePartitions(stack.db, far);
    expect(names).toHaveLength(3);
    await interactAt(userId, event.id, 'VIEW', new Date(far.getTime() + 40 * DAY));
    expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
    expect(await ensurePartitions(stack.db, far)).toEqual(names);

    const unpartitioned = createDb({ databaseUrl: process.env.DATABASE_URL!, databasePoolMax: 1 });
    try {
      expect(await ensurePartitions(unpartitioned, far)).toEqual([]);
    } finally {
      await unpartitioned.destroy();
    }
  });

  test('rolling back the partition-ready migration is refused with the reason, the table untouched', async () => {
    await expect(stack.db.migrate.down({ name: '20261129000000_interactions_partition_ready' })).rejects.toThrow(
      /interactions is partitioned/,
    );
    expect(await isPartitioned(stack.db)).toBe(true);
  });

  test('the model the worker built equals a rebuild from the partitioned rows', async () => {
    await expectModelToEqualRebuild(stack.db, stack.config.model);
  });
});
