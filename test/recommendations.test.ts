import { randomUUID } from 'node:crypto';
import { JOBS } from '../src/jobs/definitions';
import { cachedFeedEvents } from '../src/feed/candidates';
import { redisRankingCache } from '../src/feed/ranking-cache';
import { currentVersions } from '../src/feed/versions';
import { userStateKey } from '../src/data/redis';
import { getFeedPage, settingsKey } from '../src/feed/feed';
import type { Action } from '../src/domain/weights';
import { createLogger } from '../src/ops/logger';
import { processJob } from '../src/jobs/interaction-worker';
import { RankingGate } from '../src/feed/ranking-gate';
import { buildEvent, interactionPayload, recordingJob } from './helpers/factories';
import { waitForFold } from './helpers/model';
import { interactThroughApi } from './helpers/interact';
import { startStack, type Stack } from './helpers/stack';
import { jobCarrying, sleep, waitFor } from './helpers/wait';

const DAY = 24 * 60 * 60 * 1000;

describe('GET /recommendations', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
  });
  afterAll(() => stack.stop());

  const newUser = () => `user-${randomUUID()}`;

  const interact = (userId: string, ...pairs: [string, Action][]) => interactThroughApi(stack, userId, ...pairs);

  /** An interaction accepted in the past, through the worker's own code path. */
  async function interactAt(userId: string, eventId: string, action: Action, acceptedAt: Date) {
    const data = interactionPayload(userId, eventId, action, acceptedAt);
    await processJob(
      { config: stack.config, db: stack.db, logger: createLogger({ level: 'silent', name: 'test' }) },
      { id: data.id, ...recordingJob(stack.producer, data) },
    );
  }

  async function feed(userId: string, query = '') {
    const res = await stack.request('GET', `/recommendations${query}`, { token: stack.token({ sub: userId }) });
    expect(res.status).toBe(200);
    return res.body as {
      recommendationId: string;
      items: { eventId: string; position: number; score: number; reasons: { code: string; text: string }[]; event: { id: string } }[];
      nextCursor: string | null;
    };
  }

  async function wholeFeed(userId: string) {
    const ids: string[] = [];
    let page = await feed(userId, '?limit=100');
    ids.push(...page.items.map((i) => i.eventId));
    while (page.nextCursor) {
      page = await feed(userId, `?limit=100&cursor=${page.nextCursor}`);
      ids.push(...page.items.map((i) => i.eventId));
    }
    return ids;
  }

  const rank = (ids: string[], id: string) => {
    const at = ids.indexOf(id);
    expect(at).toBeGreaterThanOrEqual(0);
    return at;
  };

  test('answers in the documented shape, with only upcoming events', async () => {
    const upcoming = await buildEvent(stack.db, { title: 'Shape check', category: 'Folk', tags: ['acoustic'], city: 'Leipzig' });
    const past = await buildEvent(stack.db, { startsAt: new Date(Date.now() - DAY) });
    await interact(newUser(), [upcoming.id, 'SAVE'], [past.id, 'SAVE']);

    const body = await feed(newUser(), '?limit=100');

    const item = body.items.find((i) => i.eventId === upcoming.id);
    expect(body.recommendationId).toEqual(expect.any(String));
    expect(item).toEqual({
      eventId: upcoming.id,
      position: body.items.indexOf(item!) + 1,
      score: expect.any(Number),
      reasons: expect.any(Array),
      event: {
        id: upcoming.id,
        title: 'Shape check',
        startsAt: upcoming.startsAt.toISOString(),
        kind: 'event',
        category: 'Folk',
        tags: ['acoustic'],
        city: 'Leipzig',
      },
    });
    expect(body.items.map((i) => i.eventId)).not.toContain(past.id);
  });

  test('cold start: a new user gets the popular events first, with a reason', async () => {
    const [hot, warm, cold] = [await buildEvent(stack.db), await buildEvent(stack.db), await buildEvent(stack.db)];
    for (let i = 0; i < 3; i += 1) await interact(newUser(), [hot.id, 'SAVE']);
    await interact(newUser(), [warm.id, 'SAVE']);

    const ids = await wholeFeed(newUser());

    expect(rank(ids, hot.id)).toBeLessThan(rank(ids, warm.id));
    expect(rank(ids, warm.id)).toBeLessThan(rank(ids, cold.id));
    const first = (await feed(newUser(), '?limit=100')).items.find((i) => i.eventId === hot.id);
    expect(first?.reasons.map((r) => r.code)).toContain('popular');
  });

  test('S-INT-2: a dismissed event leaves the feed within seconds, and similar events drop', async () => {
    const userId = newUser();
    const [liked, seen, similar] = [
      await buildEvent(stack.db, { category: 'comedy', city: 'Bonn' }),
      await buildEvent(stack.db, { category: 'comedy', city: 'Bonn' }),
      await buildEvent(stack.db, { category: 'comedy', city: 'Bonn' }),
    ];
    await interact(newUser(), [seen.id, 'SAVE']);
    await interact(userId, [liked.id, 'VIEW']);
    const before = await feed(userId, '?limit=100');
    expect(before.items.map((i) => i.eventId)).toContain(seen.id);
    const similarBefore = before.items.find((i) => i.eventId === similar.id)!.score;

    const res = await stack.request('POST', '/interactions', {
      token: stack.token({ sub: userId }),
      body: { eventId: seen.id, action: 'DISMISS' },
    });
    expect(res.status).toBe(202);

    await waitFor('the dismissed event to leave the feed', async () => !(await wholeFeed(userId)).includes(seen.id), 5000);
    // The event is hidden at once; similar events drop once the worker has stored the DISMISS.
    const similarScore = async () => (await feed(userId, '?limit=100')).items.find((i) => i.eventId === similar.id)!.score;
    await waitFor('similar events to drop', async () => (await similarScore()) < similarBefore, 5000);
  });

  test('a DISMISS hides the event at once, even while the worker is away (the model catches up later)', async () => {
    const userId = newUser();
    const event = await buildEvent(stack.db);
    await interact(newUser(), [event.id, 'SAVE']);
    expect(await wholeFeed(userId)).toContain(event.id);
    await (await stack.startWorker()).pause(); // a worker far behind, or a rebuild under way

    const res = await stack.request('POST', '/interactions', {
      token: stack.token({ sub: userId }),
      body: { eventId: event.id, action: 'DISMISS' },
    });

    expect(res.status).toBe(202);
    expect(await wholeFeed(userId)).not.toContain(event.id);
    (await stack.startWorker()).resume();
  });

  test('applying to a gig by its id in upper case hides it at once too (ids are normalised for every route)', async () => {
    const userId = newUser();
    const gig = await buildEvent(stack.db, { kind: 'gig' });
    await interact(newUser(), [gig.id, 'SAVE']);
    expect(await wholeFeed(userId)).toContain(gig.id);
    await (await stack.startWorker()).pause(); // the APPLY is not stored yet: only the hidden set can hide it

    const res = await stack.request('POST', `/gigs/${gig.id.toUpperCase()}/applications`, { token: stack.token({ sub: userId }) });

    expect(res).toMatchObject({ status: 201, body: { eventId: gig.id } });
    expect(await wholeFeed(userId)).not.toContain(gig.id);
    (await stack.startWorker()).resume();
  });

  test('a new user with nothing to go on gets the soonest events first', async () => {
    const later = await buildEvent(stack.db, {
      startsAt: new Date(Date.now() + 3 * 60 * 60 * 1000),
      category: 'cold-3',
      tags: [],
      city: 'Nowhere-3',
    });
    const soon = await buildEvent(stack.db, {
      startsAt: new Date(Date.now() + 1 * 60 * 60 * 1000),
      category: 'cold-1',
      tags: [],
      city: 'Nowhere-1',
    });
    const middle = await buildEvent(stack.db, {
      startsAt: new Date(Date.now() + 2 * 60 * 60 * 1000),
      category: 'cold-2',
      tags: [],
      city: 'Nowhere-2',
    });

    const ids = await wholeFeed(newUser());

    expect(rank(ids, soon.id)).toBeLessThan(rank(ids, middle.id));
    expect(rank(ids, middle.id)).toBeLessThan(rank(ids, later.id));
  });

  test('the feed is for discovery: an event the user viewed, saved, clicked, applied to or dismissed does not come back', async () => {
    const userId = newUser();
    const events = [];
    for (const kind of ['event', 'event', 'event', 'gig', 'event'] as const) events.push(await buildEvent(stack.db, { kind }));
    await interact(newUser(), ...events.map((e): [string, Action] => [e.id, 'SAVE']));
    const before = await wholeFeed(userId);
    for (const event of events) expect(before).toContain(event.id);

    const actions: Action[] = ['VIEW', 'SAVE', 'CLICK', 'APPLY', 'DISMISS'];
    await interact(userId, ...events.map((e, i): [string, Action] => [e.id, actions[i]!]));

    const after = await wholeFeed(userId);
    for (const event of events) expect(after).not.toContain(event.id);
    expect(after).toHaveLength(before.length - events.length);
  });

  test('decay: the interests of an old SAVE weigh less than those of a new one', async () => {
    const userId = newUser();
    const [oldTaste, newTaste] = ['decay-a', 'decay-b'].map((category) => ({ category, tags: [], city: `${category}-town` }));
    const old = await buildEvent(stack.db, oldTaste);
    const recent = await buildEvent(stack.db, newTaste);
    const [likeOld, likeRecent] = [await buildEvent(stack.db, oldTaste), await buildEvent(stack.db, newTaste)];
    await interactAt(userId, old.id, 'SAVE', new Date(Date.now() - 90 * DAY));
    await interactAt(userId, recent.id, 'SAVE', new Date());

    const items = (await feed(userId, '?limit=100')).items;
    const score = (id: string) => items.find((i) => i.eventId === id)!.score;
    expect(score(likeRecent.id)).toBeGreaterThan(score(likeOld.id));
  });

  test('features carry over: saving three jazz gigs in Berlin lifts another jazz gig in Berlin', async () => {
    const userId = newUser();
    const saved = [];
    for (let i = 0; i < 3; i += 1)
      saved.push(await buildEvent(stack.db, { kind: 'gig', category: 'jazz', tags: ['jazz', 'live'], city: 'Berlin' }));
    const jazz = await buildEvent(stack.db, { kind: 'gig', category: 'jazz', tags: ['jazz'], city: 'Berlin' });
    const techno = await buildEvent(stack.db, { kind: 'event', category: 'techno', tags: ['club'], city: 'Hamburg' });
    await interact(userId, ...saved.map((e): [string, Action] => [e.id, 'SAVE']));

    const items = (await feed(userId, '?limit=100')).items;
    const jazzItem = items.find((i) => i.eventId === jazz.id)!;
    const ids = items.map((i) => i.eventId);
    expect(rank(ids, jazz.id)).toBeLessThan(ids.includes(techno.id) ? rank(ids, techno.id) : Infinity);
    expect(jazzItem.reasons).toContainEqual(expect.objectContaining({ code: 'matches_interest', text: 'matches your interest in jazz' }));
  });

  test('collaborative: people who saved what you saved also saved this', async () => {
    const [a, b, lonely] = [
      await buildEvent(stack.db, { category: 'x1' }),
      await buildEvent(stack.db, { category: 'x2' }),
      await buildEvent(stack.db, { category: 'x3' }),
    ];
    for (let i = 0; i < 2; i += 1) await interact(newUser(), [a.id, 'SAVE'], [b.id, 'SAVE']);
    await interact(newUser(), [lonely.id, 'SAVE'], [lonely.id, 'SAVE']);
    const userId = newUser();
    await interact(userId, [a.id, 'SAVE']);
    await waitForFold(stack.db);

    const items = (await feed(userId, '?limit=100')).items;
    const ids = items.map((i) => i.eventId);
    expect(rank(ids, b.id)).toBeLessThan(rank(ids, lonely.id));
    expect(items.find((i) => i.eventId === b.id)!.reasons.map((r) => r.code)).toContain('liked_by_similar_users');
  });

  test('paging never repeats or skips an event while scores move', async () => {
    const userId = newUser();
    const mine = [];
    for (let i = 0; i < 8; i += 1) mine.push(await buildEvent(stack.db, { category: 'paging' }));
    await interact(userId, [mine[0]!.id, 'VIEW']);

    const first = await feed(userId, '?limit=3');
    const all = [...first.items.map((i) => i.eventId)];
    const positions = first.items.map((i) => i.position);
    const rankings: string[] = [];
    let cursor = first.nextCursor;
    // Scores move between pages: other users pile onto the events not yet seen.
    await interact(newUser(), ...mine.slice(4).map((e): [string, Action] => [e.id, 'SAVE']));
    while (cursor) {
      const page = await feed(userId, `?limit=3&cursor=${cursor}`);
      all.push(...page.items.map((i) => i.eventId));
      positions.push(...page.items.map((i) => i.position));
      rankings.push(page.recommendationId);
      cursor = page.nextCursor;
    }

    expect(new Set(all).size).toBe(all.length);
    expect(positions).toEqual(all.map((_, i) => i + 1)); // 1-based, in the one ranking every page names
    expect(new Set(rankings)).toEqual(new Set([first.recommendationId]));
    const total = await stack.db('events').where('startsAt', '>', new Date()).count<{ count: string }[]>('* as count');
    expect(all).toHaveLength(Number(total[0]!.count) - 1); // every upcoming event but the one the user viewed
    expect(all).not.toContain(mine[0]!.id);
  });

  test('a later page carries the items, scores and reasons of the ranking it was cut from', async () => {
    const userId = newUser();
    const liked = await buildEvent(stack.db, { category: 'frozen', city: 'Köln: Süd', tags: ['a:b'] });
    for (let i = 0; i < 5; i += 1) await buildEvent(stack.db, { category: 'frozen', city: 'Köln: Süd', tags: ['a:b'] });
    await interact(newUser(), [liked.id, 'SAVE']);
    await interact(userId, [liked.id, 'SAVE']);

    const first = await feed(userId, '?limit=2');
    const rest = await feed(userId, `?limit=100&cursor=${first.nextCursor}`);
    const fresh = await feed(userId, '?limit=100');

    const strip = (items: typeof first.items) => items.map(({ eventId, score, reasons }) => ({ eventId, score, reasons }));
    expect(strip(rest.items)).toEqual(strip(fresh.items).slice(2, 2 + rest.items.length));
    expect(rest.items.flatMap((i) => i.reasons)).toContainEqual({
      code: 'matches_interest',
      text: 'matches your interest in events in Köln: Süd',
      feature: { type: 'city', value: 'Köln: Süd' },
    });
  });

  test('a user keeps their two latest frozen rankings, in one Redis entry; a cursor of an older one is refused', async () => {
    const events = [await buildEvent(stack.db), await buildEvent(stack.db), await buildEvent(stack.db)];
    const userId = newUser();
    const rankings = async () => (await stack.producer.connection.keys(`${stack.config.queuePrefix}:feed:*`)).length;
    const before = await rankings();
    // Once the worker has finished an interaction's job, the next first page is another ranking.
    const interactAndWait = async (eventId: string) => {
      const res = await stack.request('POST', '/interactions', {
        token: stack.token({ sub: userId }),
        body: { eventId, action: 'VIEW' },
      });
      await waitFor('the job', async () => (await (await jobCarrying(stack.producer.queue, res.body.id))?.getState()) === 'completed');
    };
    const oldest = await feed(userId, '?limit=1');
    await interactAndWait(events[0]!.id);
    const older = await feed(userId, '?limit=1'); // another tab or device
    await interactAndWait(events[1]!.id);
    const newest = await feed(userId, '?limit=1');
    expect(await rankings()).toBe(before + 1);

    const res = await stack.request('GET', `/recommendations?cursor=${oldest.nextCursor}`, { token: stack.token({ sub: userId }) });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_cursor' } } });
    expect((await feed(userId, `?limit=1&cursor=${older.nextCursor}`)).items).toHaveLength(1);
    expect((await feed(userId, `?limit=1&cursor=${newest.nextCursor}`)).items).toHaveLength(1);
  });

  test.each([
    ['limit=0', 'validation_failed'],
    ['limit=101', 'validation_failed'],
    ['limit=abc', 'validation_failed'],
    ['limit=1.5', 'validation_failed'],
    ['limit=1&limit=2', 'validation_failed'],
    ['cursor=nonsense', 'invalid_cursor'],
    [`cursor=${Buffer.from('aaaaaaaaaaaaaaaa.3').toString('base64url')}`, 'invalid_cursor'],
  ])('?%s is a 400', async (query, code) => {
    const res = await stack.request('GET', `/recommendations?${query}`);
    expect(res).toMatchObject({ status: 400, body: { error: { code } } });
  });

  test('after a write, the next first page is ranked on request, without the event the user interacted with', async () => {
    const userId = newUser();
    const event = await buildEvent(stack.db, { category: 'not-ahead' });
    expect(await wholeFeed(userId)).toContain(event.id);
    const res = await stack.request('POST', '/interactions', {
      token: stack.token({ sub: userId }),
      body: { eventId: event.id, action: 'SAVE' },
    });
    await waitFor('the job', async () => (await (await jobCarrying(stack.producer.queue, res.body.id))?.getState()) === 'completed');
    await sleep(500); // longer than a ranking ahead would wait

    const afresh = () => stack.counted('feedFirstPages', 'afresh');
    const before = await afresh();

    expect(await wholeFeed(userId)).not.toContain(event.id);
    expect(await afresh()).toBe(before + 1);
  });

  test('a rebuild of the model invalidates every ranking made before it: the next first page is ranked again', async () => {
    for (let i = 0; i < 2; i += 1) await buildEvent(stack.db);
    const userId = newUser();
    const firstPages = (ranking: string) => stack.counted('feedFirstPages', ranking);
    await feed(userId);
    const ahead = await firstPages('ahead');
    await feed(userId);
    expect(await firstPages('ahead')).toBe(ahead + 1); // reused while the model stays as it was

    const jobId = `rebuild-${randomUUID()}`;
    await stack.producer.enqueue(JOBS.rebuildModel, { reason: 'test' }, { jobId });
    await waitFor('the rebuild', async () => (await (await stack.producer.queue.getJob(jobId))?.getState()) === 'completed');

    const afresh = await firstPages('afresh');
    await feed(userId);
    expect(await firstPages('afresh')).toBe(afresh + 1);
  });

  test('concurrent first pages of one user after a write cost one ranking, and all get the same page', async () => {
    const event = await buildEvent(stack.db);
    const userId = newUser();
    await interact(userId, [event.id, 'SAVE']);
    const ranked = await stack.counted('feedRankings', 'ranked');

    // The first ranks; those that arrive while it runs share it; those after it take it, made ahead.
    const pages = await Promise.all(Array.from({ length: 32 }, () => feed(userId, '?limit=5')));

    expect(await stack.counted('feedRankings', 'ranked')).toBe(ranked + 1);
    expect(new Set(pages.map((page) => JSON.stringify(page))).size).toBe(1);
  });

  test("another user's cursor is refused", async () => {
    for (let i = 0; i < 3; i += 1) await buildEvent(stack.db);
    const page = await feed(newUser(), '?limit=1');
    const res = await stack.request('GET', `/recommendations?cursor=${page.nextCursor}`, { token: stack.token({ sub: newUser() }) });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_cursor' } } });
  });

  test('needs a token', async () => {
    expect((await stack.request('GET', '/recommendations', { token: null })).status).toBe(401);
  });
});

describe('GET /recommendations: one freshness rule, the versions of the user and of the model', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
    for (let i = 0; i < 6; i += 1) await buildEvent(stack.db, { category: i % 2 ? 'ahead-a' : 'ahead-b' });
  });
  afterAll(() => stack.stop());

  const newUser = () => `user-${randomUUID()}`;
  const cache = () => redisRankingCache(stack.producer.connection, stack.config.queuePrefix);

  async function feed(userId: string, query = '?limit=3') {
    const res = await stack.request('GET', `/recommendations${query}`, { token: stack.token({ sub: userId }) });
    expect(res.status).toBe(200);
    return res.body as { items: { eventId: string; score: number }[]; nextCursor: string | null };
  }

  /** Through the API and the real worker; resolves once the worker has finished the job. */
  async function interact(userId: string, eventId: string, action: Action) {
    const res = await stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId, action } });
    expect(res.status).toBe(202);
    await waitFor(
      'the job to complete',
      async () => (await (await jobCarrying(stack.producer.queue, res.body.id))?.getState()) === 'completed',
    );
  }

  const counted = (label: 'afresh' | 'ahead') => stack.counted('feedFirstPages', label);
  // A gate of its own per call: a process's gate lets a ranking it just made answer its key for a second.
  const feedDeps = (rankingMaxAgeMs = 60_000) => ({
    db: stack.db,
    readDb: stack.db,
    cache: cache(),
    events: cachedFeedEvents(stack.db, 0),
    settings: stack.config.feed,
    rankingMaxAgeMs,
    gate: new RankingGate({ concurrency: 4, queue: 0 }),
  });
  /** What a ranking stored by hand was made from: these versions, now, with the settings of feedDeps. */
  const made = (versions: Awaited<ReturnType<typeof currentVersions>>) => ({
    versions,
    settings: settingsKey(stack.config.feed),
    madeAt: Date.now(),
  });
  const firstPage = (deps: ReturnType<typeof feedDeps>, userId: string) =>
    getFeedPage(deps, userId, { limit: 3, deadline: Date.now() + 5000 });

  test("a first page comes from the previous one's ranking while nothing changed", async () => {
    const userId = newUser();
    const [afresh, ahead] = [await counted('afresh'), await counted('ahead')];

    const first = await feed(userId);
    const again = await feed(userId);

    expect(again).toEqual(first);
    expect([await counted('afresh'), await counted('ahead')]).toEqual([afresh + 1, ahead + 1]);
  });

  test('once the worker has stored an interaction, the next first page is ranked afresh, with it', async () => {
    const userId = newUser();
    const event = await buildEvent(stack.db, { category: 'ahead-saved' });
    expect((await feed(userId, '?limit=100')).items.map((i) => i.eventId)).toContain(event.id);
    const ahead = await counted('ahead');
    await feed(userId, '?limit=100');
    expect(await counted('ahead')).toBe(ahead + 1); // stored, and still true to the model

    await interact(userId, event.id, 'SAVE');
    const afresh = await counted('afresh');

    expect((await feed(userId, '?limit=100')).items.map((i) => i.eventId)).not.toContain(event.id);
    expect(await counted('afresh')).toBe(afresh + 1);
  });

  test("a stored ranking is served only while both versions match the primary's, and while it is young enough", async () => {
    const userId = newUser();
    const versions = await currentVersions(stack.db, userId);
    const stale = [{ eventId: randomUUID(), score: 1, reasons: [] }];
    const at = (ranking: Awaited<ReturnType<typeof firstPage>>) => ranking.ranked;

    const save = (these: typeof versions, madeAt = Date.now()) => cache().save(userId, '', stale, { ...made(these), madeAt });

    await save({ ...versions, user: String(BigInt(versions.user) - 1n) });
    expect(at(await firstPage(feedDeps(), userId))).toBe(true); // made before a write the primary has stored
    await save({ ...versions, model: String(BigInt(versions.model) - 1n) });
    expect(at(await firstPage(feedDeps(), userId))).toBe(true); // made from the model before a rebuild
    await save(versions, Date.now() - 61_000);
    expect(at(await firstPage(feedDeps(), userId))).toBe(true); // older than the greatest age
    expect(at(await firstPage(feedDeps(), userId))).toBe(false); // the one just made, true to both
    expect(at(await firstPage(feedDeps(0), userId))).toBe(true); // FEED_RANKING_MAX_AGE_S=0: always afresh
  });

  test('a stored ranking serves only first pages ranked with the same settings: a new release, or another variant', async () => {
    const userId = newUser();
    const shipped = feedDeps().settings;
    const other = { ...shipped, ranking: { ...shipped.ranking, recencyDecay: shipped.ranking.recencyDecay + 0.5 } };
    const ranked = async (settings: typeof other & { name?: string }) => (await firstPage({ ...feedDeps(), settings }, userId)).ranked;

    expect(await ranked(shipped)).toBe(true);
    expect(await ranked({ ...shipped })).toBe(false); // the same settings, in another object
    expect(await ranked(other)).toBe(true);
    expect(await ranked({ ...other, name: 'treatment' })).toBe(true); // an experiment's variant, though its settings are the same
    expect(await ranked({ ...other, name: 'treatment' })).toBe(false);
  });

  test('a cursor keeps working while writes make new first pages', async () => {
    const userId = newUser();
    const [a, b] = await stack.db('events').select('id').limit(2);
    const first = await feed(userId, '?limit=1');
    const seen = [first.items[0]!.eventId];
    let cursor = first.nextCursor;
    await interact(userId, a.id, 'VIEW');
    await feed(userId, '?limit=1'); // a new first page, ranked afresh
    await interact(userId, b.id, 'VIEW');

    while (cursor) {
      const page = await feed(userId, `?limit=1&cursor=${cursor}`);
      seen.push(...page.items.map((i) => i.eventId));
      cursor = page.nextCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
  });

  test('a ranking is stored once, in one hash per user, with the versions it was read under, and its head beside it', async () => {
    const userId = newUser();
    await feed(userId);
    const hash = await stack.producer.connection.hgetall(userStateKey(stack.config.queuePrefix, 'feed', userId));
    expect(Object.keys(hash).sort()).toEqual(['head', 'latest']);
    expect(JSON.parse(hash.latest!)).toMatchObject({ user: '0', model: expect.stringMatching(/^\d+$/), madeAt: expect.any(Number) });
    expect(JSON.parse(hash.head!)).toEqual(JSON.parse(hash.latest!)); // a ranking within the head's 100 items
  });

  test('every page of a ranking names the variant that ranked it, though the user is dealt to another meanwhile', async () => {
    const userId = newUser();
    const shipped = feedDeps().settings;
    const page = (name: string, cursor?: string) =>
      getFeedPage({ ...feedDeps(), settings: { ...shipped, name } }, userId, { limit: 1, cursor, deadline: Date.now() + 5000 });

    const first = await page('a');
    expect(first.variant).toBe('a');
    expect((await page('b', first.nextCursor!)).variant).toBe('a'); // the experiment changed; this ranking did not
    expect((await page('b')).variant).toBe('b'); // a first page is ranked again for the new variant
  });

  test('an event hidden at once stays hidden for a day, and is forgotten after, though the user hides others since', async () => {
    const userId = newUser();
    const [old, recent] = [randomUUID(), randomUUID()];
    const now = Date.now();
    await cache().hide(userId, old, now - 25 * 3600_000);
    await cache().hide(userId, recent, now - 23 * 3600_000);
    await cache().hide(userId, randomUUID(), now);

    expect((await cache().hidden(userId, now)).has(recent)).toBe(true);
    expect((await cache().hidden(userId, now)).has(old)).toBe(false);
    // Gone from Redis, not only from what is read: what a user's hidden events take stays bounded.
    const key = userStateKey(stack.config.queuePrefix, 'hiding', userId);
    expect(await stack.producer.connection.zcard(key)).toBe(2);
  });

  test('a page past a long stretch of hidden events reads them in a few round trips, not one per event', async () => {
    const userId = newUser();
    const events = await Promise.all(Array.from({ length: 130 }, () => buildEvent(stack.db, { category: 'read-ahead' })));
    await cache().save(
      userId,
      '',
      events.map((e, i) => ({ eventId: e.id, score: 1000 - i, reasons: [] })),
      made(await currentVersions(stack.db, userId)),
    );
    for (const event of events.slice(0, 120)) await cache().hide(userId, event.id);
    const deps = feedDeps();
    let reads = 0;
    const counted = { ...deps, events: (ids: string[], now: Date) => ((reads += 1), deps.events(ids, now)) };

    const first = await getFeedPage(counted, userId, { limit: 2, deadline: Date.now() + 5000 });
    expect(first.items.map((i) => [i.eventId, i.position])).toEqual([
      [events[120]!.id, 121],
      [events[121]!.id, 122],
    ]);
    expect(reads).toBeLessThanOrEqual(4);
    // The cursor resumes right after the last item shown, though more were read.
    const next = await getFeedPage(counted, userId, { limit: 3, cursor: first.nextCursor!, deadline: Date.now() + 5000 });
    expect(next.items.map((i) => i.position)).toEqual([123, 124, 125]);
  });

  test("a first page reads the stored ranking's head only, and the rest when hidden events push it past the head", async () => {
    const userId = newUser();
    const events = await Promise.all(Array.from({ length: 150 }, () => buildEvent(stack.db, { category: 'head-test' })));
    const ranking = events.map((e, i) => ({ eventId: e.id, score: 1000 - i, reasons: [] }));
    await cache().save(userId, '', ranking, made(await currentVersions(stack.db, userId)));
    const hash = await stack.producer.connection.hgetall(userStateKey(stack.config.queuePrefix, 'feed', userId));
    expect(JSON.parse(hash.head!)).toMatchObject({ length: 150 });
    expect(JSON.parse(hash.head!).items).toHaveLength(100);

    const page = (cursor?: string) => getFeedPage(feedDeps(), userId, { limit: 20, cursor, deadline: Date.now() + 5000 });
    const key = userStateKey(stack.config.queuePrefix, 'feed', userId);
    await stack.producer.connection.hdel(key, 'latest'); // what a first page within the head never reads
    const fromHead = await page();
    expect(fromHead.ranked).toBe(false);
    expect(fromHead.items.map((i) => i.eventId)).toEqual(events.slice(0, 20).map((e) => e.id));

    for (const event of events.slice(0, 90)) await cache().hide(userId, event.id); // dismissed, not yet stored
    // The rest gone (replaced twice since the head was read, say): the page ends with the head.
    expect((await page()).items.map((i) => i.eventId)).toEqual(events.slice(90, 100).map((e) => e.id));

    await cache().save(userId, '', ranking, made(await currentVersions(stack.db, userId)));
    const pastHead = await page();
    expect(pastHead.ranked).toBe(false);
    expect(pastHead.items.map((i) => i.eventId)).toEqual(events.slice(90, 110).map((e) => e.id));
    expect(pastHead.items.map((i) => i.position)).toEqual(events.slice(90, 110).map((_, i) => 91 + i));
    const next = await page(pastHead.nextCursor!);
    expect(next.items.map((i) => i.eventId)).toEqual(events.slice(110, 130).map((e) => e.id));
  });
});

describe('GET /recommendations, with the ranking work of the process bounded', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { FEED_RANKING_CONCURRENCY: '1', FEED_RANKING_QUEUE: '0' } });
    for (let i = 0; i < 5; i += 1) await buildEvent(stack.db);
  });
  afterAll(() => stack.stop());

  test('first pages beyond the bound get a 503 with Retry-After at once, and the others their feed', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => stack.request('GET', '/recommendations', { token: stack.token({ sub: `user-${randomUUID()}` }) })),
    );
    const refused = answers.filter((a) => a.status === 503);

    expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThan(30);
    for (const answer of refused) {
      expect(answer.body).toEqual({ error: { code: 'service_unavailable', message: expect.stringMatching(/feeds/) } });
      expect(answer.headers.get('retry-after')).toBe('1');
    }
    expect(await stack.counted('feedRankings', 'refused')).toBe(refused.length);
    expect(await stack.counted('feedRankings', 'ranked')).toBe(30 - refused.length);
  });
});
