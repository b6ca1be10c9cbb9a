import { randomUUID } from 'node:crypto';
import { insertImpressions } from '../src/data/impressions';
import { assignVariant } from '../src/feed/experiment';
import { processJob } from '../src/jobs/interaction-worker';
import { JOBS } from '../src/jobs/definitions';
import { createLogger } from '../src/ops/logger';
import { waitForInteractions } from './helpers/db';
import { buildEvent } from './helpers/factories';
import { startStack, type Stack } from './helpers/stack';
import { waitFor } from './helpers/wait';

const ADMIN = { ADMIN_USERNAME: 'ops', ADMIN_PASSWORD: 'correct horse battery' };
const basic = `Basic ${Buffer.from(`${ADMIN.ADMIN_USERNAME}:${ADMIN.ADMIN_PASSWORD}`).toString('base64')}`;
const today = () => new Date().toISOString().slice(0, 10);
const yesterday = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

interface FeedPage {
  recommendationId: string;
  items: { eventId: string; position: number }[];
  nextCursor: string | null;
}

type Day = { date: string; variant: string; impressions: number; engaged: Record<string, number>; byPosition: any[] };

describe('feed impressions and attribution', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true, env: { ...ADMIN, FEED_ATTRIBUTION_HOURS: '1' } });
    for (let i = 0; i < 6; i += 1) await buildEvent(stack.db);
  });
  afterAll(() => stack.stop());

  const feed = async (userId: string, query: string): Promise<FeedPage> => {
    const res = await stack.request('GET', `/recommendations${query}`, { token: stack.token({ sub: userId }) });
    expect(res.status).toBe(200);
    return res.body;
  };
  const impressionsOf = (userId: string) => stack.db('feed_impressions').where({ user_id: userId }).orderBy('first_position');
  const stats = async (from = yesterday(), to = today()) => {
    const res = await stack.request('GET', `/admin/feed/stats?from=${from}&to=${to}`, { token: null, headers: { authorization: basic } });
    expect(res.status).toBe(200);
    return res.body.days as Day[];
  };
  const interact = (userId: string, body: object) =>
    stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body }).then((res) => expect(res.status).toBe(202));

  test('every page served is recorded once, with its ranking, variant, settings version, events and positions', async () => {
    const userId = `user-${randomUUID()}`;
    const first = await feed(userId, '?limit=3');
    const second = await feed(userId, `?limit=3&cursor=${first.nextCursor}`);
    const rows = await waitFor('both pages stored', async () =>
      (await impressionsOf(userId)).length === 2 ? impressionsOf(userId) : undefined,
    );
    expect(rows.map((r) => [r.rankingId, r.variant, r.firstPosition, r.positions, r.eventIds])).toEqual(
      [first, second].map((page) => [
        first.recommendationId,
        'control',
        page.items[0]!.position,
        page.items.map((i) => i.position),
        page.items.map((i) => i.eventId),
      ]),
    );
    expect(rows[0].settingsVersion).toEqual(expect.any(Number));
    // Done, the job is deleted: kept, jobs of a megabyte each would fill the completed jobs' cap.
    const impressionJobs = async (states: ('waiting' | 'active' | 'delayed' | 'completed')[]) =>
      (await stack.producer.queue.getJobs(states)).filter((job) => job.name === JOBS.recordImpressions);
    await waitFor('the impressions job finished', async () => (await impressionJobs(['waiting', 'active', 'delayed'])).length === 0);
    expect(await impressionJobs(['completed'])).toEqual([]);

    // The job delivered again (a worker that died after its commit) stores nothing twice.
    const again = {
      id: 'again',
      name: JOBS.recordImpressions,
      data: stack.producer.signed(JOBS.recordImpressions, {
        impressions: rows.map((r) => ({
          id: r.id,
          servedAt: r.servedAt.toISOString(),
          userId,
          rankingId: r.rankingId,
          variant: r.variant,
          settingsVersion: r.settingsVersion,
          eventIds: r.eventIds,
          positions: r.positions,
        })),
      }),
    };
    await processJob({ config: stack.config, db: stack.db, logger: createLogger({ level: 'silent', name: 'test' }) }, again);
    expect(await impressionsOf(userId)).toHaveLength(2);
    expect(await stack.counted('feedImpressions', 'control')).toBeGreaterThanOrEqual(2);
  });

  test('interactions are attributed to the page that showed them, with or without a recommendationId, and never past the window', async () => {
    const before = await stats();
    const userId = `user-${randomUUID()}`;
    const first = await feed(userId, '?limit=3');
    const second = await feed(userId, `?limit=3&cursor=${first.nextCursor}`);
    await waitFor('the pages stored', async () => (await impressionsOf(userId)).length === 2);
    const [clicked, saved, named] = [first.items[1]!, second.items[0]!, first.items[2]!];

    await interact(userId, { eventId: clicked.eventId, action: 'CLICK', recommendationId: first.recommendationId });
    await interact(userId, { eventId: saved.eventId, action: 'SAVE' }); // the latest page that showed it
    await interact(userId, { eventId: named.eventId, action: 'APPLY', recommendationId: 'a-ranking-that-did-not-show-it' });
    const unseen = await buildEvent(stack.db);
    await interact(userId, { eventId: unseen.id, action: 'VIEW' });

    // Shown to another user 90 minutes ago: past the one-hour window.
    const late = `user-${randomUUID()}`;
    await insertImpressions(stack.db, [
      {
        id: randomUUID(),
        servedAt: new Date(Date.now() - 90 * 60_000).toISOString(),
        userId: late,
        rankingId: 'old',
        variant: 'control',
        settingsVersion: 1,
        eventIds: [clicked.eventId],
        positions: [1],
      },
    ]);
    await interact(late, { eventId: clicked.eventId, action: 'CLICK' });
    await waitForInteractions(stack.db, userId, 4);
    await waitForInteractions(stack.db, late, 1);

    const after = await stats();
    const total = (days: Day[], pick: (d: Day) => number) => days.reduce((n, d) => n + pick(d), 0);
    expect(total(after, (d) => d.impressions) - total(before, (d) => d.impressions)).toBe(first.items.length + second.items.length + 1);
    const engaged = (days: Day[], action: string) => total(days, (d) => d.engaged[action]!);
    expect(['VIEW', 'CLICK', 'SAVE', 'APPLY', 'DISMISS'].map((a) => engaged(after, a) - engaged(before, a))).toEqual([0, 1, 1, 0, 0]);
    const at = (days: Day[], position: number, action: string) => total(days, (d) => d.byPosition[position - 1].engaged[action]);
    expect(at(after, clicked.position, 'CLICK') - at(before, clicked.position, 'CLICK')).toBe(1);
    expect(at(after, saved.position, 'SAVE') - at(before, saved.position, 'SAVE')).toBe(1);
    expect(after.every((d) => d.variant === 'control' && d.byPosition.length === 20)).toBe(true);

    // Each attributed interaction knows its ranking, position and variant.
    const { rows } = await stack.db.raw(
      `select a.action, a.ranking_id, a.position, a.variant from feed_attributions(now() - interval '1 day', now() + interval '1 minute', 1) a
        where a.user_id in (?, ?) order by a.position`,
      [userId, late],
    );
    expect(rows).toEqual(
      [
        { action: 'CLICK', ranking_id: first.recommendationId, position: clicked.position, variant: 'control' },
        { action: 'SAVE', ranking_id: first.recommendationId, position: saved.position, variant: 'control' },
      ].sort((a, b) => a.position - b.position),
    );
  });

  test('the stats need the operators’ login and a valid range', async () => {
    expect((await stack.request('GET', `/admin/feed/stats?from=${today()}&to=${today()}`, { token: null })).status).toBe(401);
    const bad = await stack.request('GET', `/admin/feed/stats?from=${today()}&to=${yesterday()}`, {
      token: null,
      headers: { authorization: basic },
    });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    // A day PostgreSQL has no year for.
    const yearZero = await stack.request('GET', '/admin/feed/stats?from=0000-01-01&to=0000-01-31', {
      token: null,
      headers: { authorization: basic },
    });
    expect(yearZero).toMatchObject({
      status: 400,
      body: { error: { code: 'validation_failed', message: expect.stringContaining('from') } },
    });
  });

  test('a page showing an event whose id is a UUID PostgreSQL takes but not an RFC 4122 one is recorded', async () => {
    const id = '12345678-1234-1234-1234-123456789abc';
    await stack
      .db('events')
      .insert({ id, title: 'Imported', starts_at: new Date(Date.now() + 86_400_000), kind: 'event', organizer_id: 'importer' });
    const userId = `user-${randomUUID()}`;
    const page = await feed(userId, '?limit=50');
    expect(page.items.map((i) => i.eventId)).toContain(id);
    const [row] = await waitFor('the page stored', async () =>
      (await impressionsOf(userId)).length === 1 ? impressionsOf(userId) : undefined,
    );
    expect(row.eventIds).toContain(id);
  });

  test('a recommendationId that is not a string of at most 200 characters is refused, and nothing is recorded', async () => {
    const event = await buildEvent(stack.db);
    for (const recommendationId of ['r'.repeat(201), 42, '']) {
      const single = await stack.request('POST', '/interactions', { body: { eventId: event.id, action: 'VIEW', recommendationId } });
      expect(single).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
      const batch = await stack.request('POST', '/interactions/batch', {
        body: { interactions: [{ eventId: event.id, action: 'VIEW', recommendationId }] },
      });
      expect(batch.body.results[0]).toMatchObject({ status: 400, error: { code: 'validation_failed' } });
    }
  });
});

describe('an experiment on the feed', () => {
  const FEED_EXPERIMENT = JSON.stringify([
    { name: 'control', share: 0.5 },
    // Its feeds draw on the one soonest event only: a setting whose effect shows on every page.
    { name: 'soonest', share: 0.5, settings: { candidates: { popular: 0, soonest: 1, collaborative: 0, byFeature: 0 } } },
  ]);
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true, env: { ...ADMIN, FEED_EXPERIMENT } });
    for (let i = 0; i < 4; i += 1) await buildEvent(stack.db);
  });
  afterAll(() => stack.stop());

  test('users are dealt to variants stably, every page records its variant, and the stats report each with its interval', async () => {
    const users = Array.from({ length: 12 }, () => `user-${randomUUID()}`);
    const variantOf = new Map(users.map((u) => [u, assignVariant(stack.config.feedVariants, u).name]));
    expect(new Set(variantOf.values())).toEqual(new Set(['control', 'soonest']));
    const pages = new Map<string, FeedPage>();
    for (const userId of users) {
      const res = await stack.request('GET', '/recommendations?limit=2', { token: stack.token({ sub: userId }) });
      pages.set(userId, res.body);
      await stack.request('GET', '/recommendations?limit=2', { token: stack.token({ sub: userId }) }); // the same variant again
    }
    const rows = await waitFor('every page stored', async () => {
      const found = await stack.db('feed_impressions').whereIn('user_id', users);
      return found.length === users.length * 2 ? found : undefined;
    });
    for (const row of rows) expect(row.variant).toBe(variantOf.get(row.userId));
    for (const [userId, page] of pages) expect(page.items).toHaveLength(variantOf.get(userId) === 'soonest' ? 1 : 2);

    // One user of each variant saves the first event of their page.
    for (const variant of ['control', 'soonest']) {
      const userId = users.find((u) => variantOf.get(u) === variant)!;
      const { recommendationId, items } = pages.get(userId)!;
      const res = await stack.request('POST', '/interactions', {
        token: stack.token({ sub: userId }),
        body: { eventId: items[0]!.eventId, action: 'SAVE', recommendationId },
      });
      expect(res.status).toBe(202);
      await waitForInteractions(stack.db, userId, 1);
    }
    const res = await stack.request('GET', `/admin/feed/stats?from=${yesterday()}&to=${today()}`, {
      token: null,
      headers: { authorization: basic },
    });
    expect(res.status).toBe(200);
    const days = res.body.days as Day[];
    expect(new Set(days.map((d) => d.variant))).toEqual(new Set(['control', 'soonest']));
    for (const variant of ['control', 'soonest']) {
      expect(days.filter((d) => d.variant === variant).reduce((n, d) => n + d.engaged.SAVE!, 0)).toBe(1);
    }
    expect(res.body.variants).toEqual([
      expect.objectContaining({ variant: 'control', positive: 1, difference: null }),
      expect.objectContaining({
        variant: 'soonest',
        positive: 1,
        difference: { estimate: expect.any(Number), low: expect.any(Number), high: expect.any(Number) },
      }),
    ]);
    expect(await stack.counted('feedEngagements', 'soonest')).toBe(1);
  });
});
