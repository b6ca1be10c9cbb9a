import { createHash } from 'node:crypto';
import type { Db } from '../data/db';
import type { CandidateLimits, RankingSettings } from '../domain/fitted-settings';
import { ValidationError } from '../errors';
import { loadFeedCandidates, loadSettledEvents, type FeedEvent, type FeedEvents } from './candidates';
import { decodeCursor, encodeCursor } from './cursor';
import { filterScope, NO_FILTER, type FeedFilter } from './filter';
import { inMemory, type RankingCache, type RankingItems } from './ranking-cache';
import type { RankingGate } from './ranking-gate';
import { rankCandidates, type RankedItem } from './ranking';
import { atLeast, currentVersions, sameVersions, type Versions } from './versions';

const NONE: ReadonlySet<string> = new Set();

type FeedSettings = { name?: string; ranking: RankingSettings; candidates: CandidateLimits };

const settingsKeys = new WeakMap<FeedSettings, string>();

/**
 * What a stored ranking must have been ranked with to serve a first page: a digest of the variant's
 * name and settings, so that a new release's settings, or an experiment that deals a user to
 * another variant, takes effect on their next first page (and the page's impression records the
 * variant that ranked it), not once FEED_RANKING_MAX_AGE_S has passed.
 */
export function settingsKey(settings: FeedSettings): string {
  let key = settingsKeys.get(settings);
  if (key === undefined) {
    const text = JSON.stringify([settings.name ?? '', settings.ranking, settings.candidates]);
    settingsKeys.set(settings, (key = createHash('sha256').update(text).digest('base64url').slice(0, 16)));
  }
  return key;
}

/** How deep one can page into a feed before it has to be fetched afresh. */
const SNAPSHOT_SIZE = 500;

/** How many items a page reads at least once some it read were dropped. */
const READ_AHEAD = 50;

/** How many of a new ranking's best events the page facts cache is handed (the first pages' worth). */
const REMEMBERED_EVENTS = 100;

export interface FeedDeps {
  /** The primary: the versions a stored ranking must match, and the ranking when the replica lags. */
  db: Db;
  /** Where rankings read the model: the replica of DATABASE_READ_URL, or `db`. */
  readDb: Db;
  cache: RankingCache;
  /** How feeds are ranked (Config['feed'], or the user's variant of the experiment, named). */
  settings: FeedSettings;
  /** The facts a page shows of its events, for those that have not started (cachedFeedEvents). */
  events: FeedEvents;
  /** How old a stored ranking may be and still serve a first page (0: rank every first page afresh). */
  rankingMaxAgeMs: number;
  /** Bounds the ranking work of the process; concurrent first pages of one user share one ranking. */
  gate: RankingGate;
  /** DATABASE_PREPARED_STATEMENTS: the candidate statement prepared once per connection. */
  preparedStatements?: boolean;
}

export interface FeedPage {
  /** The ranking the page was cut from: the same on every page of it. */
  rankingId: string;
  /** Each with its 1-based position in that ranking. */
  items: (RankedItem & { event: FeedEvent; position: number })[];
  nextCursor: string | null;
  /** The experiment's variant whose settings made the ranking (absent: one an older release stored). */
  variant?: string;
  /** Whether the first page was ranked for this request (false: served from the stored ranking). */
  ranked: boolean;
}

/**
 * One page of the user's feed.
 *
 * Freshness, in one rule: the transaction that stores a user's interactions advances their
 * version, and a rebuild advances the model's; a ranking records the versions it was made under,
 * read in the same statement as its candidates. A first page is served from the user's stored
 * ranking only while both still match the primary's, it was ranked with the same settings
 * (settingsKey) and it is younger than `rankingMaxAgeMs`;
 * otherwise it is ranked afresh. So once the worker has stored an interaction, the user's next first
 * page reflects it. A ranking read on a replica that has not yet replayed what the primary's
 * versions count is made again on the primary.
 *
 * Each filter set has its own rankings, under the same rule (a cursor works only with the filter
 * its first page was asked with). Every ranking is frozen: a cursor pages through the one it was
 * cut from, dropping events that started, or that the user dismissed or applied to since, so
 * paging never repeats or skips an event while scores move.
 */
export async function getFeedPage(
  deps: FeedDeps,
  userId: string,
  request: { limit: number; cursor?: string; deadline: number; filter?: FeedFilter },
  now = new Date(),
): Promise<FeedPage> {
  const filter = request.filter ?? NO_FILTER;
  const scope = filterScope(filter);
  let items: RankingItems;
  let snapshotId: string;
  let position = 0;
  let ranked = false;
  let variant: string | undefined;
  // Events the user dismissed or applied to, hidden at once, before the worker has stored them.
  let hidden: Set<string>;
  if (request.cursor) {
    const cursor = decodeCursor(request.cursor);
    const [frozen, hiddenNow] = await Promise.all([deps.cache.load(userId, scope, cursor.snapshot), deps.cache.hidden(userId)]);
    if (!frozen) {
      throw new ValidationError(
        'The cursor has expired, was replaced by a newer first page, or belongs to another feed; fetch the first page again',
        { code: 'invalid_cursor' },
      );
    }
    ({ items, variant } = frozen);
    snapshotId = cursor.snapshot;
    position = Math.min(cursor.offset, items.length);
    hidden = hiddenNow;
  } else {
    const [versions, stored, hiddenNow] = await Promise.all([
      currentVersions(deps.db, userId),
      deps.cache.latest(userId, scope),
      deps.cache.hidden(userId),
    ]);
    hidden = hiddenNow;
    const settings = settingsKey(deps.settings);
    const fresh = stored && now.getTime() - stored.madeAt < deps.rankingMaxAgeMs;
    if (fresh && stored.settings === settings && sameVersions(stored.versions, versions)) {
      ({ items, id: snapshotId, variant } = stored);
    } else {
      // First pages of the user under the same versions and settings share one ranking.
      const key = `${userId}\n${scope}\n${settings}\n${versions.user}\n${versions.model}`;
      ({ items, snapshotId } = await deps.gate.run(key, request.deadline, async () => {
        let ranking = await rankFeed(deps, deps.readDb, userId, hidden, now, filter);
        if (!atLeast(ranking.versions, versions)) ranking = await rankFeed(deps, deps.db, userId, hidden, now, filter);
        const made = { versions: ranking.versions, settings, variant: deps.settings.name, madeAt: now.getTime() };
        const id = await deps.cache.save(userId, scope, ranking.items, made);
        return { items: inMemory(ranking.items), snapshotId: id };
      }));
      ranked = true;
      variant = deps.settings.name;
    }
  }

  const page: FeedPage['items'] = [];
  for (let reads = 0; page.length < request.limit && position < items.length; reads += 1) {
    const missing = request.limit - page.length;
    // What the page misses at first; once events were dropped (started, hidden), READ_AHEAD at least,
    // so that a stretch of dropped events costs a few round trips, not one per event.
    const slice = await items.slice(position, position + (reads === 0 ? missing : Math.max(missing, READ_AHEAD)));
    if (slice.length === 0) break; // the rest of a stored ranking is gone: replaced twice since its head was read
    const ids = slice.map((item) => item.eventId);
    // A first page's ranking reflects every stored DISMISS and APPLY; an older one, paged through, may not.
    const [events, settled] = await Promise.all([deps.events(ids, now), request.cursor ? loadSettledEvents(deps.db, userId, ids) : NONE]);
    for (const item of slice) {
      if (page.length === request.limit) break; // the cursor resumes at the first item not looked at
      position += 1;
      const event = events.get(item.eventId);
      if (event && !hidden.has(item.eventId) && !settled.has(item.eventId)) page.push({ ...item, event, position });
    }
  }
  const nextCursor = position < items.length ? encodeCursor({ snapshot: snapshotId, offset: position }) : null;
  return { rankingId: snapshotId, items: page, nextCursor, ranked, variant };
}

/**
 * The user's whole feed (within the filter) from the model as `db` has it, without the events in
 * `hidden`, and the versions it was made under.
 */
export async function rankFeed(
  deps: Pick<FeedDeps, 'settings' | 'preparedStatements'> & { events?: FeedEvents },
  db: Db,
  userId: string,
  hidden: Set<string>,
  now = new Date(),
  filter: FeedFilter = NO_FILTER,
): Promise<{ items: RankedItem[]; versions: Versions }> {
  const loaded = await loadFeedCandidates(db, userId, now, deps.settings, { filter, prepared: deps.preparedStatements });
  const candidates = loaded.candidates.filter((c) => !hidden.has(c.eventId));
  const items = rankCandidates(deps.settings.ranking, loaded.profile, candidates).slice(0, SNAPSHOT_SIZE);
  if (deps.events?.remember) {
    // What the first pages will show: the rest would only churn the cache.
    const shown = new Set(items.slice(0, REMEMBERED_EVENTS).map((item) => item.eventId));
    deps.events.remember(loaded.events.filter((event) => shown.has(event.id)));
  }
  return { items, versions: loaded.versions };
}
