import { randomUUID } from 'node:crypto';
import type { Action } from '../src/domain/weights';
import { userStateKey } from '../src/data/redis';
import { CURSOR_LIFETIME_S, MAX_FILTER_SCOPES } from '../src/feed/ranking-cache';
import { buildEvent } from './helpers/factories';
import { waitForFold } from './helpers/model';
import { interactThroughApi } from './helpers/interact';
import { startStack, type Stack } from './helpers/stack';

const DAY = 24 * 60 * 60 * 1000;

type Item = {
  eventId: string;
  position: number;
  score: number;
  reasons: { code: string }[];
  event: { kind: string; city: string | null; category: string | null; startsAt: string };
};

describe('GET /recommendations with filters', () => {
  let stack: Stack;
  /**
   * The catalogue: 8 rock events in Berlin, 4 gigs (2 rock, 2 jazz) in Munich, 4 jazz events in
   * Hamburg, at different days; and 200 punk events in Berlin within the next day.
   */
  const rock: string[] = [];
  const gigs: { rock: string[]; jazz: string[] } = { rock: [], jazz: [] };
  const jazz: string[] = [];
  const starts = new Map<string, number>();
  let taste: string; // a user who saved rock events only

  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true });
    let day = 1;
    const add = async (kind: 'event' | 'gig', category: string, city: string) => {
      const startsAt = new Date(Date.now() + (day += 1) * DAY);
      const event = await buildEvent(stack.db, { kind, category, city, tags: [category], startsAt });
      starts.set(event.id, startsAt.getTime());
      return event.id;
    };
    for (let i = 0; i < 8; i += 1) rock.push(await add('event', 'Rock', 'Berlin'));
    for (let i = 0; i < 2; i += 1) gigs.rock.push(await add('gig', 'Rock', 'Munich'));
    for (let i = 0; i < 2; i += 1) gigs.jazz.push(await add('gig', 'Jazz', 'Munich'));
    for (let i = 0; i < 4; i += 1) jazz.push(await add('event', 'Jazz', 'Hamburg'));
    // More events starting sooner than the candidate sources of a plain feed take (see CandidateLimits).
    for (let i = 0; i < 200; i += 1) {
      await buildEvent(stack.db, {
        category: 'Punk',
        tags: ['punk'],
        city: 'Berlin',
        startsAt: new Date(Date.now() + DAY / 2 + i * 60_000),
      });
    }

    // Two jazz events are the popular ones; taste saves rock events.
    taste = `user-${randomUUID()}`;
    for (let i = 0; i < 3; i += 1) await interact(`user-${randomUUID()}`, [jazz[0]!, 'SAVE'], [jazz[1]!, 'SAVE']);
    await interact(taste, [rock[0]!, 'SAVE'], [rock[1]!, 'SAVE']);
    await waitForFold(stack.db);
  });
  afterAll(() => stack.stop());

  const interact = (userId: string, ...pairs: [string, Action][]) => interactThroughApi(stack, userId, ...pairs);

  async function feed(userId: string, query: string) {
    const res = await stack.request('GET', `/recommendations?${query}`, { token: stack.token({ sub: userId }) });
    expect({ query, status: res.status, body: res.status === 200 ? undefined : res.body }).toEqual({ query, status: 200, body: undefined });
    return res.body as { recommendationId: string; items: Item[]; nextCursor: string | null };
  }

  /** Every page of one filtered feed, with each page's recommendationId. */
  async function wholeFeed(userId: string, query: string, limit = 2) {
    const items: Item[] = [];
    const ids = new Set<string>();
    let page = await feed(userId, `${query}&limit=${limit}`);
    items.push(...page.items);
    ids.add(page.recommendationId);
    while (page.nextCursor) {
      page = await feed(userId, `${query}&limit=${limit}&cursor=${page.nextCursor}`);
      items.push(...page.items);
      ids.add(page.recommendationId);
    }
    return { items, recommendationIds: ids };
  }

  test('each filter alone keeps only the events that pass it', async () => {
    const gigsOnly = await feed(taste, 'kind=gig&limit=100');
    expect(new Set(gigsOnly.items.map((i) => i.eventId))).toEqual(new Set([...gigs.rock, ...gigs.jazz]));

    const munich = await feed(taste, 'city=%20MUNICH&limit=100');
    expect(munich.items.map((i) => i.event.city)).toEqual(Array(4).fill('Munich'));

    const categories = await feed(taste, 'category=jazz&category=NOPE&limit=100');
    expect(new Set(categories.items.map((i) => i.eventId))).toEqual(new Set([...gigs.jazz, ...jazz]));

    const from = starts.get(rock[4]!)!;
    const until = starts.get(gigs.rock[1]!)!;
    const window = await feed(
      taste,
      `startsAfter=${encodeURIComponent(new Date(from).toISOString())}&startsBefore=${encodeURIComponent(new Date(until).toISOString().replace('Z', '+00:00'))}&limit=100`,
    );
    // Strictly after and strictly before: rock 5 to 7 and the first rock gig.
    expect(new Set(window.items.map((i) => i.eventId))).toEqual(new Set([...rock.slice(5), gigs.rock[0]]));
  });

  test('filters combine with AND', async () => {
    const body = await feed(
      taste,
      `kind=gig&category=rock&city=munich&startsAfter=${encodeURIComponent(new Date(Date.now()).toISOString())}`,
    );
    expect(body.items.map((i) => i.eventId).sort()).toEqual([...gigs.rock].sort());
    expect((await feed(taste, 'kind=gig&city=berlin')).items).toEqual([]);
  });

  test('the feed is ranked within the filter: a rock fan gets their best gigs, which the plain first page leaves out', async () => {
    const plain = await feed(taste, 'limit=5');
    expect(plain.items.map((i) => i.event.kind)).toEqual(Array(5).fill('event'));
    // Not only its first page: no gig is anywhere in the plain feed, so cutting it would find none.
    expect((await wholeFeed(taste, '', 100)).items.filter((i) => i.event.kind === 'gig')).toEqual([]);

    const best = await feed(taste, 'kind=gig&limit=4');
    // The rock gigs first, for the reason the plain feed would give.
    expect(
      best.items
        .slice(0, 2)
        .map((i) => i.eventId)
        .sort(),
    ).toEqual([...gigs.rock].sort());
    expect(best.items[0]!.reasons).toContainEqual(expect.objectContaining({ code: 'matches_interest' }));
    expect(best.items.map((i) => i.position)).toEqual([1, 2, 3, 4]);
    expect(best.recommendationId).not.toBe(plain.recommendationId);
  });

  test('paging under a filter never repeats or skips, while writes make new first pages', async () => {
    const userId = `user-${randomUUID()}`;
    await interact(userId, [jazz[0]!, 'VIEW']);
    const first = await feed(userId, 'category=rock&limit=3');
    const seen = first.items.map((i) => i.eventId);
    let cursor = first.nextCursor;
    await interact(userId, [rock[7]!, 'SAVE']); // a write: the next first page is ranked afresh
    expect((await feed(userId, 'category=rock&limit=3')).recommendationId).not.toBe(first.recommendationId);
    while (cursor) {
      const page = await feed(userId, `category=rock&limit=3&cursor=${cursor}`);
      expect(page.recommendationId).toBe(first.recommendationId);
      seen.push(...page.items.map((i) => i.eventId));
      cursor = page.nextCursor;
    }
    // Every rock event once; the one saved meanwhile (rock 7) may have left, nothing else.
    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(seen.filter((id) => id !== rock[7]))).toEqual(new Set([...rock.slice(0, 7), ...gigs.rock]));

    const { items, recommendationIds } = await wholeFeed(`user-${randomUUID()}`, 'kind=event&city=hamburg', 1);
    expect(items.map((i) => i.eventId).sort()).toEqual([...jazz].sort());
    expect(items.map((i) => i.position)).toEqual([1, 2, 3, 4]);
    expect(recommendationIds.size).toBe(1);
  });

  test("a filter set's ranking is its own: a cursor only pages the filters it was cut with", async () => {
    const userId = `user-${randomUUID()}`;
    const gigsPage = await feed(userId, 'kind=gig&limit=1');
    const plainPage = await feed(userId, 'limit=1');
    // The plain first page did not replace the gig ranking: its cursor still works.
    const next = await feed(userId, `kind=gig&limit=1&cursor=${gigsPage.nextCursor}`);
    expect(next.recommendationId).toBe(gigsPage.recommendationId);
    const elsewhere = await stack.request('GET', `/recommendations?limit=1&cursor=${gigsPage.nextCursor}`, {
      token: stack.token({ sub: userId }),
    });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.code).toBe('invalid_cursor');
    expect(plainPage.recommendationId).not.toBe(gigsPage.recommendationId);
    // The same filters spelled another way are the same ranking.
    expect((await feed(userId, 'category=Jazz&category=rock&limit=1')).recommendationId).toBe(
      (await feed(userId, 'category=ROCK&category=jazz&limit=1')).recommendationId,
    );
  });

  test("a user keeps the rankings of at most 8 filter sets, and always the plain feed's", async () => {
    const userId = `user-${randomUUID()}`;
    const key = userStateKey(stack.config.queuePrefix, 'feed', userId);
    // latest, previous or head, then the scope: '' for the plain feed
    const scopes = async () => new Set((await stack.producer.connection.hkeys(key)).map((field) => field.replace(/^[a-z]+/, '')));
    const plain = await feed(userId, 'limit=1');
    const cities = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].map((c) => `city=${c}`);
    for (const filter of cities.slice(0, MAX_FILTER_SCOPES)) await feed(userId, `${filter}&limit=1`);
    expect((await scopes()).size).toBe(MAX_FILTER_SCOPES + 1);
    // A ninth drops the other filter sets' rankings, however few fields each took.
    await feed(userId, `${cities[MAX_FILTER_SCOPES]}&limit=1`);
    expect((await scopes()).size).toBe(2);
    expect(await scopes()).toContain('');
    await feed(userId, `${cities[MAX_FILTER_SCOPES + 1]}&limit=1`);
    const fields = await stack.producer.connection.hkeys(key);
    expect(fields.length).toBeLessThanOrEqual(3 * (MAX_FILTER_SCOPES + 1)); // latest, previous and head of each
    expect(fields).toContain('latest');
    // The plain feed's cursor still pages, and so does the latest filter's.
    expect((await feed(userId, `limit=1&cursor=${plain.nextCursor}`)).recommendationId).toBe(plain.recommendationId);
    const last = await feed(userId, `${cities.at(-1)}&kind=gig&limit=1`);
    expect(last.items).toEqual([]);
  });

  test('a first page served from a stored ranking as old as allowed still leaves its cursor 30 minutes', async () => {
    const userId = `user-${randomUUID()}`;
    const key = userStateKey(stack.config.queuePrefix, 'feed', userId);
    await feed(userId, 'kind=gig&limit=1');
    expect(stack.config.feedRankingMaxAgeMs).toBeGreaterThan(0);
    // Served from that ranking up to feedRankingMaxAgeMs later, a first page's cursor pages 30 minutes from then.
    expect(await stack.producer.connection.ttl(key)).toBeGreaterThanOrEqual(
      CURSOR_LIFETIME_S + stack.config.feedRankingMaxAgeMs / 1000 - 5,
    );
  });

  test("a user who never asked for the plain feed keeps 8 filter sets' rankings too", async () => {
    const userId = `user-${randomUUID()}`;
    const first = await feed(userId, 'city=berlin&limit=1');
    for (const city of ['a', 'b', 'c', 'd', 'e', 'f', 'g'].slice(0, MAX_FILTER_SCOPES - 1)) await feed(userId, `city=${city}&limit=1`);
    expect((await feed(userId, `city=berlin&limit=1&cursor=${first.nextCursor}`)).recommendationId).toBe(first.recommendationId);
    await feed(userId, 'city=h&limit=1'); // the ninth
    const res = await stack.request('GET', `/recommendations?city=berlin&limit=1&cursor=${first.nextCursor}`, {
      token: stack.token({ sub: userId }),
    });
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 400, code: 'invalid_cursor' });
  });

  test("cities are matched, and liked, in any case as PostgreSQL's lower() spells them (İstanbul, ΑΘΗΝΑΣ)", async () => {
    const spellings = { İstanbul: ['İstanbul', 'İSTANBUL', 'ISTANBUL', 'istanbul'], ΑΘΗΝΑΣ: ['ΑΘΗΝΑΣ', 'ΑθηνΑΣ'] };
    for (const [city, asked] of Object.entries(spellings)) {
      const make = (category: string) => buildEvent(stack.db, { category, tags: [], city, startsAt: new Date(Date.now() + DAY / 4) });
      const target = await make(`target-${randomUUID()}`);
      for (const spelling of asked) {
        const found = await feed(`user-${randomUUID()}`, `city=${encodeURIComponent(spelling)}&limit=100`);
        expect({ spelling, found: found.items.map((i) => i.eventId) }).toEqual({ spelling, found: [target.id] });
      }
      // Saved events in the city make it an interest: the city's other events say so. (They start
      // before the 200 punk events, which would otherwise fill the candidates of the shared organizer.)
      const userId = `user-${randomUUID()}`;
      const saved = [await make(`a-${randomUUID()}`), await make(`b-${randomUUID()}`), await make(`c-${randomUUID()}`)];
      await interact(userId, ...saved.map((e): [string, Action] => [e.id, 'SAVE']));
      const item = (await feed(userId, 'limit=100')).items.find((i) => i.eventId === target.id);
      expect({ city, reasons: item?.reasons }).toEqual({
        city,
        reasons: expect.arrayContaining([expect.objectContaining({ code: 'matches_interest', feature: { type: 'city', value: city } })]),
      });
    }
  });

  test('a bad date is named alone, not as out of order too', async () => {
    for (const [query, field] of [
      ['startsAfter=bad&startsBefore=2030-12-11T18:00:00Z', 'startsAfter'],
      ['startsAfter=2030-12-11T18:00:00Z&startsBefore=bad', 'startsBefore'],
    ] as const) {
      const res = await stack.request('GET', `/recommendations?${query}`, { token: stack.token() });
      expect(res.status).toBe(400);
      expect(res.body.error.message.split('; ')).toEqual([expect.stringMatching(new RegExp(`^${field}: must be an ISO 8601`))]);
    }
  });

  test.each([
    ['kind=concert', 'kind'],
    ['city=', 'city'],
    ['city=a&city=b', 'city'],
    ['category=', 'category'],
    ['startsAfter=2026-12-11', 'startsAfter'],
    ['startsBefore=tomorrow', 'startsBefore'],
    ['startsAfter=2026-12-11T10:00:00Z&startsBefore=2026-12-11T09:00:00Z', 'startsBefore'],
    [`${'category=x&'.repeat(21)}limit=1`, 'category'],
  ])('%s is 400 validation_failed naming %s', async (query, field) => {
    const res = await stack.request('GET', `/recommendations?${query}`, { token: stack.token() });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toMatch(new RegExp(`(^|; )${field}(\\.\\d+)?: `));
  });
});
