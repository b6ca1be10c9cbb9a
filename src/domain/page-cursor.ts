import type { Position } from '../data/collections';
import { ValidationError } from '../errors';
import { isUuid } from './ids';

/** One page of a list, and the cursor of the next (null on the last). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** An opaque cursor for a place in a list ordered by time, then id. */
export function encodePosition(position: Position): string {
  return Buffer.from(`${position.atMicros}.${position.id}`).toString('base64url');
}

export function decodePosition(cursor: string): Position {
  const match = /^(-?\d{1,17})\.([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || !isUuid(match[2]!)) throw new ValidationError('The cursor is not valid', { code: 'invalid_cursor' });
  return { atMicros: match[1]!, id: match[2]! };
}

/**
 * Turns `limit + 1` rows fetched after a position into a page: the extra row only says there is more.
 */
export function toPage<T extends { position: Position }>(rows: T[], limit: number): Page<Omit<T, 'position'>> {
  const items = rows.slice(0, limit);
  const nextCursor = rows.length > limit ? encodePosition(items[items.length - 1]!.position) : null;
  return { items: items.map(({ position: _, ...item }) => item), nextCursor };
}
