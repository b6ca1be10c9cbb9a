import type { Db } from '../data/db';
import { loadFeedCandidates, loadSettledEvents, type FeedEvent } from '../data/feed';
import type { FeedStore, RankingItems } from '../data/feed-store';
import { ValidationError } from '../errors';
import type { CandidateLimits, RankingSettings } from './fitted-settings';
import { rankCandidates, type RankedItem } from './ranking';
import type { RankingGate } from './ranking-gate';

const NONE: ReadonlySet<string> = new Set();

/** How deep one can page into a feed before it has to be fetched afresh. */
const SNAPSHOT_SIZE = 500;

export interface FeedDeps {
  db: Db;
  store: FeedStore;
  /** How feeds are ranked (Config['feed']). */
  settings: { ranking: RankingSettings; candidates: CandidateLimits };
  /** The facts a page shows of its events, for those that have not started (cachedFeedEvents). */
  events(ids: string[], now: Date): Promise<Map<string, FeedEvent>>;
  /** How old a ranking made ahead may be and still serve a first page (0: rank every first page afresh). */
  rankingMaxAgeMs: number;
  /**
   * Whether what `db` reads from now on includes every interaction stored so far: always on the
   * primary; on a replica, once it has replayed the primary's log up to now. A ranking read
   * otherwise is kept for paging but never made ready for the next first page, since its generation
   * may already count writes the replica has not replayed.
   */
  upToDate(): Promise<boolean>;
  /** Bounds the ranking work of the process; concurrent first pages of one user share one ranking. */
  gate: RankingGate;
}

export interface FeedPage {
  items: (RankedItem & { event: FeedEvent })[];
  nextCursor: string | null;
}

/**
 * One page of the user's feed. A first page comes from the ranking made ahead for it (by the worker
 * after the user's latest interactions, or by their previous first page) while that ranking is
 * current, and is ranked afresh otherwise; either way the ranking is frozen, and a cursor pages
 * through it, dropping events that started or that the user dismissed or applied to since, so
 * paging never repeats or skips an event while scores move.
 */
export async function getRecommendations(
  deps: FeedDeps,
  userId: string,
  request: { limit: number; cursor?: string; deadline: number },
  now = new Date(),
): Promise<FeedPage & { ranked: boolean }> {
  let items: RankingItems;
  let snapshotId: string;
  let position = 0;
  let ranked = false;
  // Events the user dismissed or applied to since the ranking (or the snapshot) was made.
  let hidden: Set<string>;
  if (request.cursor) {
    const cursor = decodeCursor(request.cursor);
    const frozen = await deps.store.load(userId, cursor.snapshot);
    if (!frozen) {
      throw new ValidationError(
        'The cursor has expired, was replaced by a newer first page, or belongs to another feed; fetch the first page again',
        {
          code: 'invalid_cursor',
        },
      );
    }
    items = frozen;
    snapshotId = cursor.snapshot;
    position = Math.min(cursor.offset, items.length);
    hidden = await deps.store.hidden(userId);
  } else {
    const [{ ready, generation }, hiddenNow] = await Promise.all([
      deps.store.takeReady(userId, deps.rankingMaxAgeMs),
      deps.store.hidden(userId),
    ]);
    hidden = hiddenNow;
    if (ready) {
      ({ items, id: snapshotId } = ready);
    } else {
      // Shared by the user's first pages that read the same generation: none misses a write another does not.
      ({ items, snapshotId } = await deps.gate.run(`${userId}\n${generation}`, request.deadline, async () => {
        // Asked after the generation was read, so every write it counts is stored before this.
        const complete = await deps.upToDate();
        const ranking = await rankFeed(deps, userId, hidden, now);
        return { items: ranking, snapshotId: await deps.store.save(userId, ranking, complete ? generation : undefined) };
      }));
      ranked = true;
    }
  }

  const page: FeedPage['items'] = [];
  while (page.length < request.limit && position < items.length) {
    const slice = items.slice(position, position + request.limit - page.length);
    position += slice.length;
    const ids = slice.map((item) => item.eventId);
    // A first page's ranking reflects every stored DISMISS and APPLY (see FeedStore); an older
    // frozen one, paged through, may not.
    const [events, settled] = await Promise.all([deps.events(ids, now), request.cursor ? loadSettledEvents(deps.db, userId, ids) : NONE]);
    for (const item of slice) {
      const event = events.get(item.eventId);
      if (event && !hidden.has(item.eventId) && !settled.has(item.eventId)) page.push({ ...item, event });
    }
  }
  const nextCursor = position < items.length ? encodeCursor({ snapshot: snapshotId, offset: position }) : null;
  return { items: page, nextCursor, ranked };
}

/** The user's whole feed, ranked from the model as it stands, without the events in `hidden`. */
export async function rankFeed(deps: Pick<FeedDeps, 'db' | 'settings'>, userId: string, hidden: Set<string>, now = new Date()) {
  const loaded = await loadFeedCandidates(deps.db, userId, now, deps.settings);
  const candidates = loaded.candidates.filter((c) => !hidden.has(c.eventId));
  return rankCandidates(deps.settings.ranking, loaded.profile, candidates).slice(0, SNAPSHOT_SIZE);
}

interface Cursor {
  snapshot: string;
  offset: number;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.snapshot}.${cursor.offset}`).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  const match = /^([\w-]{16,32})\.(\d{1,4})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match) throw new ValidationError('The cursor is not valid', { code: 'invalid_cursor' });
  return { snapshot: match[1]!, offset: Number(match[2]) };
}
