import { randomUUID } from 'node:crypto';
import { itemModelFitter, MAX_FIT_SHARE, QUIET_MS, refitItemModel } from '../src/domain/item-model-fitter';
import { loadFeedCandidates } from '../src/feed/candidates';
import { fitHistories, readFitCandidates } from '../src/data/item-model-store';
import { fitItemModel } from '../src/domain/item-model';
import { loadSimilarCandidates } from '../src/feed/similar';
import { createLogger } from '../src/ops/logger';
import type { Action } from '../src/domain/weights';
import { buildEvent } from './helpers/factories';
import { interactThroughApi } from './helpers/interact';
import { waitForFold } from './helpers/model';
import { startStack, type Stack } from './helpers/stack';
import { sleep, waitFor } from './helpers/wait';

const DAY = 24 * 60 * 60 * 1000;
const settings = { items: 50, minUsers: 2, lambda: 1, neighbours: 10 };

/** The item model: fitted by the workers from the stored positives, read by the feed. */
describe('the item model, fitted in batch beside the online model', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
  });
  afterAll(() => stack.stop());

  const interact = (userId: string, ...pairs: [string, Action][]) => interactThroughApi(stack, userId, ...pairs);
  const newUser = () => `user-${randomUUID()}`;
  const weights = async () =>
    (await stack.db.raw('select event_id, neighbour_id, weight from item_neighbours order by event_id, weight desc')).rows as {
      event_id: string;
      neighbour_id: string;
      weight: number;
    }[];

  test('the worker fits it after new positives, once, and the feed reads it', async () => {
    const [a, b, c, d, rare] = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => buildEvent(stack.db, { category: 'Jazz', startsAt: new Date(Date.now() + n * DAY) })),
    );
    for (let i = 0; i < 3; i += 1) await interact(newUser(), [a!.id, 'SAVE'], [b!.id, 'SAVE']);
    for (let i = 0; i < 3; i += 1) await interact(newUser(), [c!.id, 'SAVE'], [d!.id, 'CLICK']);
    await interact(newUser(), [a!.id, 'VIEW'], [rare!.id, 'SAVE']);
    await waitForFold(stack.db);

    const fitter = itemModelFitter(stack.db, { ...settings, refitMs: 50 }, createLogger({ level: 'silent', name: 'test' }));
    fitter.start();
    try {
      await waitFor('the item model fitted', async () => (await weights()).length > 0);
      const rows = await weights();
      const of = (id: string) => rows.filter((r) => r.event_id === id).map((r) => r.neighbour_id);
      expect(of(a!.id)[0]).toBe(b!.id);
      expect(of(c!.id)[0]).toBe(d!.id);
      for (const row of rows) expect(row.neighbour_id).not.toBe(row.event_id);
      // One user was positive about `rare`: below minUsers, it is not fitted.
      expect(rows.some((r) => r.event_id === rare!.id || r.neighbour_id === rare!.id)).toBe(false);
      const [state] = (await stack.db.raw("select settings from model_state where name = 'item_model'")).rows;
      expect(state.settings).toMatchObject({ positives: 14, items: 4, users: 7, durationMs: expect.any(Number) });
    } finally {
      await fitter.stop();
    }

    // Nothing new: no fit. One positive more (15, 7 % more): not due until a minute after the last
    // fit, unless asked for at once; then one of two workers asking together fits.
    const minute = { olderThanMs: 60_000, quiet: true, maxShare: MAX_FIT_SHARE, neverFittedAt: 0 };
    expect(await refitItemModel(stack.db, settings)).toBeUndefined();
    const reader = newUser();
    await interact(reader, [a!.id, 'SAVE']);
    expect(await refitItemModel(stack.db, settings, minute)).toBeUndefined();
    const both = await Promise.all([refitItemModel(stack.db, settings), refitItemModel(stack.db, settings)]);
    expect(both.filter(Boolean)).toHaveLength(1);
    // Grown by a tenth since (17 against 15): due before the minute once the worker is quiet (and
    // four times the last fit's few milliseconds have passed), not while it is storing rows.
    await interact(newUser(), [c!.id, 'VIEW'], [d!.id, 'VIEW']);
    expect(await refitItemModel(stack.db, settings, { ...minute, quiet: false })).toBeUndefined();
    expect(await waitFor('a fit', () => refitItemModel(stack.db, settings, minute), 10_000)).toMatchObject({ positives: 17 });
    // A fit that took long holds the next one back however much positives grow: at most a fifth of a core.
    await stack.db.raw(`update model_state set settings = settings || '{"durationMs": 100000}' where name = 'item_model'`);
    await interact(newUser(), [a!.id, 'VIEW'], [b!.id, 'VIEW']);
    expect(await refitItemModel(stack.db, settings, { ...minute, olderThanMs: 0 })).toBeUndefined();
    expect(await refitItemModel(stack.db, settings)).toMatchObject({ positives: 19 });

    // Beside `a`, `b` by the item model too.
    const similar = await loadSimilarCandidates(stack.db, newUser(), a!.id, new Date(), stack.config.feed.ranking);
    expect(similar.candidates.find((x) => x.eventId === b!.id)?.itemModel).toBeGreaterThan(0);
    const res = await stack.request('GET', '/recommendations', { token: stack.token({ sub: reader }) });
    expect(res.status).toBe(200);
    expect(res.body.items[0]).toMatchObject({ eventId: b!.id });
    expect(res.body.items[0].reasons[0]).toMatchObject({ code: 'liked_by_similar_users' });
  });

  test('the fit reads the histories a page of users at a time, afresh each pass: the same in pages of 2 as in one', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map((n) => buildEvent(stack.db, { startsAt: new Date(Date.now() + n * DAY) })));
    for (let i = 0; i < 5; i += 1) await interact(newUser(), [a!.id, 'SAVE'], [b!.id, 'VIEW'], [c!.id, 'CLICK']);
    const { candidates } = await readFitCandidates(stack.db, 50);
    const read = async (histories: AsyncIterable<number[]>) => {
      const all: number[][] = [];
      for await (const history of histories) all.push(history);
      return all;
    };
    const whole = await read(fitHistories(stack.db, candidates, 500));
    expect(whole.length).toBeGreaterThanOrEqual(5);
    const paged = fitHistories(stack.db, candidates, 500, 2);
    expect(await read(paged)).toEqual(whole);
    expect(await read(paged)).toEqual(whole); // a second pass reads them again
    const fitOf = async (histories: Iterable<number[]> | AsyncIterable<number[]>) => fitItemModel(histories, candidates, settings);
    expect(await fitOf(paged)).toEqual(await fitOf(whole));
  });

  test('a worker fits once it has been quiet, not while it starts on a backlog', async () => {
    const [a, b] = await Promise.all([1, 2].map((n) => buildEvent(stack.db, { startsAt: new Date(Date.now() + n * DAY) })));
    for (let i = 0; i < 3; i += 1) await interact(newUser(), [a!.id, 'SAVE'], [b!.id, 'SAVE']);
    const fitted = async () => (await stack.db.raw("select settings from model_state where name = 'item_model'")).rows[0]?.settings;
    const before = (await fitted())?.fittedAt;
    const fitter = itemModelFitter(stack.db, { ...settings, refitMs: 60_000 }, createLogger({ level: 'silent', name: 'test' }));
    fitter.start();
    try {
      await sleep(QUIET_MS / 2);
      expect((await fitted())?.fittedAt).toBe(before);
      await waitFor('a fit once quiet', async () => (await fitted())?.fittedAt !== before);
    } finally {
      await fitter.stop();
    }
  });

  test('its neighbours are events still to come, and under a filter the feed takes its best that pass', async () => {
    const at = (n: number, category: string) => buildEvent(stack.db, { category, startsAt: new Date(Date.now() + n * DAY) });
    const [a, rock, jazz, started] = await Promise.all([at(1, 'Jazz'), at(2, 'Rock'), at(3, 'Jazz'), at(4, 'Jazz')]);
    for (let i = 0; i < 4; i += 1) await interact(newUser(), [a!.id, 'SAVE'], [rock!.id, 'SAVE']);
    for (let i = 0; i < 2; i += 1) await interact(newUser(), [a!.id, 'SAVE'], [jazz!.id, 'SAVE']);
    for (let i = 0; i < 2; i += 1) await interact(newUser(), [started!.id, 'SAVE'], [rock!.id, 'SAVE']);
    await waitForFold(stack.db);
    await stack
      .db('events')
      .where({ id: started!.id })
      .update({ starts_at: new Date(Date.now() - DAY) });
    await refitItemModel(stack.db, settings);
    const rows = await weights();
    expect(rows.some((r) => r.neighbour_id === started!.id)).toBe(false);
    expect(rows.filter((r) => r.event_id === started!.id).map((r) => r.neighbour_id)).toContain(rock!.id);

    // The item model's one best for the reader is `rock`; within Jazz it is `jazz`.
    const one = { ...stack.config.feed, candidates: { ...stack.config.feed.candidates, itemModel: 1 } };
    const reader = newUser();
    await interact(reader, [a!.id, 'SAVE']);
    const plain = await loadFeedCandidates(stack.db, reader, new Date(), one);
    expect(plain.candidates.find((x) => x.itemModel)?.eventId).toBe(rock!.id);
    const inJazz = await loadFeedCandidates(stack.db, reader, new Date(), one, { filter: { categories: ['jazz'] } });
    expect(inJazz.candidates.find((x) => x.eventId === jazz!.id)?.itemModel).toBeGreaterThan(0);
  });

  test('with the item model weighted 0, the feed reads none of it', async () => {
    const off = {
      ...stack.config.feed,
      ranking: { ...stack.config.feed.ranking, weights: { ...stack.config.feed.ranking.weights, itemModel: 0 } },
    };
    const [a, b] = await Promise.all([1, 2].map((n) => buildEvent(stack.db, { startsAt: new Date(Date.now() + n * DAY) })));
    for (let i = 0; i < 3; i += 1) await interact(newUser(), [a!.id, 'SAVE'], [b!.id, 'SAVE']);
    await waitForFold(stack.db);
    await refitItemModel(stack.db, settings);
    const reader = newUser();
    await interact(reader, [a!.id, 'SAVE']);
    const on = await loadFeedCandidates(stack.db, reader, new Date(), stack.config.feed);
    expect(on.candidates.find((x) => x.eventId === b!.id)?.itemModel).toBeGreaterThan(0);
    const without = await loadFeedCandidates(stack.db, reader, new Date(), off);
    expect(without.candidates.every((x) => !x.itemModel)).toBe(true);
  });
});
