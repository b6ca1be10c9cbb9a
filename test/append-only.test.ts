import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { createDb, type Db } from '../src/data/db';
import { loadConfig } from '../src/config';

describe('the interactions table is append-only', () => {
  let db: Db;
  let id: string;
  beforeAll(async () => {
    db = createDb(loadConfig());
    id = uuidv7();
    const now = new Date();
    await db('interactions').insert({
      id,
      userId: 'u1',
      eventId: randomUUID(),
      action: 'VIEW',
      source: 'api',
      createdAt: now,
      occurredAt: now,
    });
  });
  afterAll(() => db.destroy());

  test('UPDATE is rejected by the database', async () => {
    await expect(db('interactions').where({ id }).update({ action: 'SAVE' })).rejects.toThrow(/append-only: UPDATE/);
  });

  test('DELETE is rejected by the database', async () => {
    await expect(db('interactions').where({ id }).delete()).rejects.toThrow(/append-only: DELETE/);
  });

  test('TRUNCATE is rejected by the database', async () => {
    await expect(db.raw('truncate interactions')).rejects.toThrow(/append-only: TRUNCATE/);
  });

  test('the row is still there, unchanged', async () => {
    expect(await db('interactions').where({ id }).first()).toMatchObject({ id, action: 'VIEW' });
  });

  test('an action outside the five is rejected by the database', async () => {
    await expect(
      db('interactions').insert({
        id: uuidv7(),
        userId: 'u1',
        eventId: randomUUID(),
        action: 'LIKE',
        source: 'api',
        createdAt: new Date(),
        occurredAt: new Date(),
      }),
    ).rejects.toThrow(/interactions_action_check/);
  });
});
