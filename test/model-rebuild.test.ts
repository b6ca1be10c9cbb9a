import { randomUUID } from 'node:crypto';
import type { Worker } from 'bullmq';
import type { Config } from '../src/config';
import { readModelSettings } from '../src/data/model-store';
import { InteractionModel, type EventModel } from '../src/data/models';
import { rebuildModel, scheduleRebuildIfStale, settingsDigest } from '../src/domain/rebuild-model';
import { rebuildModelJob } from '../src/jobs/rebuild-model';
import { pairWeights, type ModelSettings } from '../src/domain/model';
import type { Action } from '../src/domain/weights';
import { createLogger } from '../src/ops/logger';
import { createInteractionWorker } from '../src/jobs/interaction-worker';
import { buildEvent } from './helpers/factories';
import { runEntry } from './helpers/processes';
import { DIRECTED_COOCCURRENCE, expectSameModel, modelState, waitForFold } from './helpers/model';
import { startStack, type Stack } from './helpers/stack';
import { waitFor } from './helpers/wait';

describe('rebuilding the model from the interactions', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
  });
  afterAll(() => stack.stop());

  async function send(userId: string, eventId: string, action: Action) {
    const res = await stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId, action } });
    expect(res.status).toBe(202);
    return res.body.id as string;
  }

  test('yields the same model as the workers built incrementally', async () => {
    const events: EventModel[] = [];
    for (let i = 0; i < 6; i += 1) {
      events.push(
        await buildEvent(stack.db, {
          category: ['jazz', 'techno'][i % 2],
          tags: [`t${i % 3}`, 'live'],
          city: ['Berlin', 'Hamburg', 'Köln'][i % 3],
          kind: i % 2 ? 'gig' : 'event',
        }),
      );
    }
    const users = Array.from({ length: 5 }, () => `user-${randomUUID()}`);
    const actions: Action[] = ['VIEW', 'SAVE', 'CLICK', 'APPLY', 'DISMISS', 'SAVE', 'VIEW'];
    // Users send in parallel (the worker interleaves them); each user's own sends are in order.
    const ids = (
      await Promise.all(
        users.map(async (userId, u) => {
          const sent = [];
          for (let i = 0; i < 12; i += 1)
            sent.push(await send(userId, events[(u * 7 + i * 5) % events.length]!.id, actions[(u + i) % actions.length]!));
          return sent;
        }),
      )
    ).flat();
    await waitFor('every row', async () => (await InteractionModel.query(stack.db).whereIn('id', ids)).length === ids.length);
    await waitFor('the queue to drain', async () => (await stack.producer.queue.getJobCounts('active', 'waiting')).active === 0);
    await waitForFold(stack.db);
    const incremental = await modelState(stack.db);
    expect(incremental.cooccurrence!.length).toBeGreaterThan(0);

    const progress: number[] = [];
    const result = await rebuildModel(stack.db, stack.config.model, (done) => progress.push(done));

    expect(result.interactions).toBe(ids.length);
    expect(progress.at(-1)).toBe(ids.length);
    expectSameModel(await modelState(stack.db), incremental);
  });
});

describe('co-occurrence, as the workers fold it', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.stop());

  test("is directed and weighted by distance: an event's row holds what its users went on to engage with", async () => {
    const [a, b, c] = [await buildEvent(stack.db), await buildEvent(stack.db), await buildEvent(stack.db)];
    const userId = `user-${randomUUID()}`;
    for (const event of [a!, b!, c!]) {
      const res = await stack.request('POST', '/interactions', {
        token: stack.token({ sub: userId }),
        body: { eventId: event.id, action: 'SAVE' },
      });
      await waitFor('the row', async () => (await InteractionModel.query(stack.db).findById(res.body.id)) !== undefined);
    }
    const ids = [a!.id, b!.id, c!.id];
    const rows = await waitFor('the pairs folded', async () => {
      const { rows: found } = await stack.db.raw<{ rows: { event_id: string; other_event_id: string; value: number }[] }>(
        `select * from (${DIRECTED_COOCCURRENCE}) directed where event_id = any(?::uuid[])`,
        [ids],
      );
      return found.length === 6 ? found : undefined;
    });
    const value = (row: string, other: string) => rows.find((r) => r.event_id === row && r.other_event_id === other)?.value;
    const near = pairWeights(stack.config.model, 1);
    const far = pairWeights(stack.config.model, 2);
    expect(near.forward).toBeGreaterThan(near.backward);
    expect(far.forward).toBeLessThan(near.forward);
    // a, then b, then c: b came 1 after a, c 2 after a and 1 after b.
    expect(value(a!.id, b!.id)).toBeCloseTo(near.forward, 9);
    expect(value(a!.id, c!.id)).toBeCloseTo(far.forward, 9);
    expect(value(b!.id, c!.id)).toBeCloseTo(near.forward, 9);
    expect(value(b!.id, a!.id)).toBeCloseTo(near.backward, 9);
    expect(value(c!.id, a!.id)).toBeCloseTo(far.backward, 9);
    expect(value(c!.id, b!.id)).toBeCloseTo(near.backward, 9);
  });
});

describe('npm run scores:rebuild', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
  });
  afterAll(() => stack.stop());

  test('rebuilds the model, then invalidates the feed rankings made before it', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const res = await stack.request('POST', '/interactions', {
      token: stack.token({ sub: userId }),
      body: { eventId: event.id, action: 'SAVE' },
    });
    await waitFor('the row', async () => (await InteractionModel.query(stack.db).findById(res.body.id)) !== undefined);
    const firstPage = () => stack.request('GET', '/recommendations', { token: stack.token({ sub: userId }) });
    const firstPages = (ranking: string) => stack.counted('feedFirstPages', ranking);
    expect((await firstPage()).status).toBe(200); // ranked now, and ready for the next first page
    await stack.db('userEventScores').delete(); // what the rebuild must restore

    const script = runEntry('scripts/rebuild-scores.ts', {
      DATABASE_URL: stack.config.databaseUrl,
      REDIS_URL: stack.config.redisUrl,
      QUEUE_PREFIX: stack.config.queuePrefix,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
    });
    if ((await script.exited) !== 0) throw new Error(`the rebuild failed:\n${script.output()}`);
    expect(script.output()).toMatch(/Rebuilt the model from 1 interactions/);
    expect(await stack.db('userEventScores').where({ userId })).toHaveLength(1);

    const afresh = await firstPages('afresh');
    expect((await firstPage()).status).toBe(200);
    expect(await firstPages('afresh')).toBe(afresh + 1);
  });
});

describe('changing the weights', () => {
  let stack: Stack;
  let newWorker: Worker | undefined;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
  });
  afterAll(async () => {
    await newWorker?.close();
    await stack.stop();
  });

  test('is applied by a rebuild job through the queue', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    for (const action of ['VIEW', 'SAVE'] as const) {
      await stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId: event.id, action } });
    }
    await waitFor('two rows', async () => (await InteractionModel.query(stack.db).where({ userId })).length === 2);
    await rebuildModel(stack.db, stack.config.model);
    expect(await scheduleRebuildIfStale(stack.db, stack.producer, stack.config.model)).toBe(false);

    // A deployment with new weights: the old worker stops, a new one starts with the new settings.
    await (await stack.startWorker()).close();
    const weights = { ...stack.config.weights, VIEW: 2, SAVE: 7 };
    const config: Config = { ...stack.config, weights, model: { ...stack.config.model, weights } };
    newWorker = createInteractionWorker({ config, db: stack.db, logger: createLogger({ level: 'silent', name: 'test' }) });

    expect(await scheduleRebuildIfStale(stack.db, stack.producer, config.model)).toBe(true);

    await waitFor('the rebuild', async () => (await readModelSettings(stack.db))?.weights.SAVE === 7);
    const pair = await stack.db('userEventScores').where({ userId, eventId: event.id }).first();
    expect(pair).toMatchObject({ score: 2 + 7, interactionCount: 2 });
  });
});

/**
 * A rolling deploy that changes the model's settings runs workers of both releases side by side.
 * The model must stay of one set of settings whichever of them writes, and its rebuild must be run
 * with the new ones.
 */
describe('a rolling deploy that changes the model settings', () => {
  let stack: Stack;
  let other: ModelSettings;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
    const weights = { ...stack.config.weights, VIEW: 2, SAVE: 7 };
    other = { ...stack.config.model, weights, cooccurrenceBackward: 0 };
  });
  afterAll(() => stack.stop());

  test('workers write with the settings the model was built with, not their own', async () => {
    const [first, second] = [await buildEvent(stack.db), await buildEvent(stack.db)];
    // The model as the other release's rebuild left it; this worker still has the settings before.
    await rebuildModel(stack.db, other);
    const userId = `user-${randomUUID()}`;
    for (const [eventId, action] of [
      [first!.id, 'VIEW'],
      [first!.id, 'SAVE'],
      [second!.id, 'SAVE'],
    ] as const) {
      const res = await stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId, action } });
      expect(res.status).toBe(202);
    }
    await waitFor('three rows', async () => (await InteractionModel.query(stack.db).where({ userId })).length === 3);
    await waitForFold(stack.db);

    const pair = await stack.db('userEventScores').where({ userId, eventId: first!.id }).first();
    expect(pair).toMatchObject({ score: 2 + 7, interactionCount: 2 });
    // Paired as the model was built: nothing backwards.
    const [low, high] = [first!.id, second!.id].sort();
    const row = await stack.db('eventPairs').where({ lowEventId: low, highEventId: high }).first();
    expect(low === first!.id ? row.highToLow : row.lowToHigh).toBe(0);
    expect(low === first!.id ? row.lowToHigh : row.highToLow).toBe(1);
  });

  test('a rebuild queued for other settings is left to a worker that has them', async () => {
    await rebuildModel(stack.db, stack.config.model);
    const deps = { config: stack.config, db: stack.db, logger: createLogger({ level: 'silent', name: 'test' }) };
    const log = deps.logger;
    // This worker's release is the old one: the rebuild the new one queued is not its to run.
    await expect(rebuildModelJob.handle(deps, { reason: 'test', settings: settingsDigest(other) }, log)).rejects.toThrow(
      /left to a worker that has them/,
    );
    expect((await readModelSettings(stack.db))?.weights.SAVE).toBe(stack.config.model.weights.SAVE);

    // The new release's worker runs it; queued again (a retry), it finds nothing left to do.
    const newer = { ...deps, config: { ...stack.config, model: other } };
    expect(await rebuildModelJob.handle(newer, { reason: 'test', settings: settingsDigest(other) }, log)).not.toHaveProperty('skipped');
    expect((await readModelSettings(stack.db))?.weights.SAVE).toBe(7);
    // Its folds paired with its settings (nothing backwards), not with those the model had before it.
    const pairs = await stack.db('eventPairs').select('lowToHigh', 'highToLow');
    expect(pairs.length).toBeGreaterThan(0);
    expect(pairs.filter((p) => p.lowToHigh > 0 && p.highToLow > 0)).toEqual([]);
    expect(await rebuildModelJob.handle(newer, { reason: 'test', settings: settingsDigest(other) }, log)).toMatchObject({ skipped: true });
  });
});
