import type { Db } from '../../src/data/db';
import { cachedEventExists } from '../../src/data/events';

/** A database whose first query never answers (sent on a connection to a server that is gone), and the rest do. */
function databaseWithOneLostQuery(events: string[]) {
  let queries = 0;
  const db = (() => ({
    select: () => ({
      whereRaw: (_sql: string, [ids]: [string[]]) => {
        queries += 1;
        return queries === 1
          ? new Promise(() => undefined)
          : Promise.resolve(ids.filter((id) => events.includes(id)).map((id) => ({ id })));
      },
    }),
  })) as unknown as Db;
  return { db, queries: () => queries };
}

describe('cachedEventExists', () => {
  test('a lookup that never answers lets its callers go with a 503, and the next one asks again', async () => {
    const event = '0193a0de-0000-7000-8000-000000000001';
    const { db, queries } = databaseWithOneLostQuery([event]);
    const exists = cachedEventExists(db, 0, 100, 50);

    await expect(exists(event)).rejects.toMatchObject({ status: 503, code: 'service_unavailable' });
    await expect(exists(event)).resolves.toBe(true);
    expect(queries()).toBe(2);
  });
});
