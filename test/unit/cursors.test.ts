import { decodePosition, encodePosition, toPage } from '../../src/domain/page-cursor';
import { decodeCursor, encodeCursor } from '../../src/feed/cursor';

const invalid = { code: 'invalid_cursor', status: 400 };

describe('feed cursors', () => {
  test('round-trip a snapshot and an offset', () => {
    const cursor = { snapshot: 'AbCdEf0123456789_-', offset: 40 };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  test('refuse anything they did not produce with 400 invalid_cursor', () => {
    for (const text of [
      '',
      'not-a-cursor',
      Buffer.from('short.1').toString('base64url'),
      Buffer.from('AbCdEf0123456789.99999').toString('base64url'),
    ]) {
      expect(() => decodeCursor(text)).toThrow(expect.objectContaining(invalid));
    }
  });
});

describe('list cursors (collections and their events)', () => {
  const id = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

  test('round-trip a position (microseconds and id)', () => {
    expect(decodePosition(encodePosition({ atMicros: '1764547200123456', id }))).toEqual({ atMicros: '1764547200123456', id });
  });

  test('refuse a cursor whose id is not a UUID, or whose time is not a number', () => {
    expect(() => decodePosition(Buffer.from('12.not-a-uuid-but-thirty-six-chars-xx').toString('base64url'))).toThrow(
      expect.objectContaining(invalid),
    );
    expect(() => decodePosition(Buffer.from(`x1.${id}`).toString('base64url'))).toThrow(expect.objectContaining(invalid));
  });

  test('a page of `limit + 1` rows has a next cursor at its last item; a shorter one has none', () => {
    const rows = [1, 2, 3].map((n) => ({ name: `c${n}`, position: { atMicros: String(n), id } }));
    const page = toPage(rows, 2);
    expect(page.items).toEqual([{ name: 'c1' }, { name: 'c2' }]);
    expect(decodePosition(page.nextCursor!)).toEqual({ atMicros: '2', id });
    expect(toPage(rows, 3).nextCursor).toBeNull();
  });
});
