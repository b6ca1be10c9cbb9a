import { ValidationError } from '../errors';

/** A place in a frozen ranking: its id and the offset of the next item. */
export interface FeedCursor {
  snapshot: string;
  offset: number;
}

export function encodeCursor(cursor: FeedCursor): string {
  return Buffer.from(`${cursor.snapshot}.${cursor.offset}`).toString('base64url');
}

export function decodeCursor(text: string): FeedCursor {
  const match = /^([\w-]{16,32})\.(\d{1,4})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match) throw new ValidationError('The cursor is not valid', { code: 'invalid_cursor' });
  return { snapshot: match[1]!, offset: Number(match[2]) };
}
