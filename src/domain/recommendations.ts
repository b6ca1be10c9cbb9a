import type { Db } from '../data/db';
import { loadFeedCandidates, loadShowableEvents, type FeedEvent } from '../data/feed';
import type { FeedStore } from '../data/feed-store';
import { ValidationError } from '../errors';
import type { ModelSettings } from './model';
import { rankCandidates, type RankedItem } from './ranking';

/** How deep one can page into a feed before it has to be fetched afresh. */
const SNAPSHOT_SIZE = 500;

export interface FeedDeps {
  db: Db;
  store: FeedStore;
  settings: ModelSettings;
}

export interface FeedPage {
  items: (RankedItem & { event: FeedEvent })[];
  nextCursor: string | null;
}

/**
 * One page of the user's feed. The first page ranks afresh and freezes the ranking; a cursor pages
 * through that frozen ranking, dropping events that started or that the user dismissed or applied
 * to since, so paging never repeats or skips an event while scores move.
 */
export async function getRecommendations(
  deps: FeedDeps,
  userId: string,
  request: { limit: number; cursor?: string },
  now = new Date(),
): Promise<FeedPage> {
  let items: RankedItem[];
  let snapshotId: string | undefined;
  let position = 0;
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
    const [loaded, hiddenNow] = await Promise.all([loadFeedCandidates(deps.db, userId, now), deps.store.hidden(userId)]);
    hidden = hiddenNow;
    items = rankCandidates(
      deps.settings,
      now,
      loaded.profile,
      loaded.candidates.filter((c) => !hidden.has(c.eventId)),
    ).slice(0, SNAPSHOT_SIZE);
    if (items.length > request.limit) snapshotId = await deps.store.save(userId, items);
  }

  const page: FeedPage['items'] = [];
  while (page.length < request.limit && position < items.length) {
    const slice = items.slice(position, position + request.limit - page.length);
    position += slice.length;
    const showable = await loadShowableEvents(
      deps.db,
      userId,
      slice.map((item) => item.eventId),
      now,
    );
    for (const item of slice) {
      const event = showable.get(item.eventId);
      if (event && !hidden.has(item.eventId)) page.push({ ...item, event });
    }
  }
  const nextCursor = snapshotId && position < items.length ? encodeCursor({ snapshot: snapshotId, offset: position }) : null;
  return { items: page, nextCursor };
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
