import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { DIRECTED_COOCCURRENCE } from './helpers/model';
import { startStack, type Stack } from './helpers/stack';

const EVENT_PAIRS = '20261201010000_event_pairs';

/** Migrations that move data, on a database of their own taken back to before them. */
describe(`migration ${EVENT_PAIRS}`, () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true, worker: false });
  });
  afterAll(() => stack.stop());

  test('carries both directions of each pair from event_cooccurrence into one event_pairs row, and rolls back', async () => {
    await stack.db.migrate.down({ name: EVENT_PAIRS });
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()].sort() as [string, string, string];
    // a and b in both directions, b to c one way only, as a fold with a backward weight of 0 leaves it.
    const directed = [
      { event_id: a, other_event_id: b, value: 1.5 },
      { event_id: b, other_event_id: a, value: 0.75 },
      { event_id: c, other_event_id: b, value: 2 },
    ];
    await stack.db.raw(
      `insert into event_cooccurrence (event_id, other_event_id, value)
       select * from unnest(?::uuid[], ?::uuid[], ?::float8[])`,
      <Knex.Value[]>[directed.map((r) => r.event_id), directed.map((r) => r.other_event_id), directed.map((r) => r.value)],
    );

    await stack.db.migrate.up({ name: EVENT_PAIRS });

    const { rows: pairs } = await stack.db.raw('select * from event_pairs order by low_event_id, high_event_id');
    expect(pairs).toEqual([
      { low_event_id: a, high_event_id: b, low_to_high: 1.5, high_to_low: 0.75 },
      { low_event_id: b, high_event_id: c, low_to_high: 0, high_to_low: 2 },
    ]);
    const { rows: read } = await stack.db.raw(`select * from (${DIRECTED_COOCCURRENCE}) d order by event_id, other_event_id`);
    expect(read).toEqual([...directed].sort((x, y) => (x.event_id + x.other_event_id).localeCompare(y.event_id + y.other_event_id)));

    await stack.db.migrate.down({ name: EVENT_PAIRS });
    const { rows: tables } = await stack.db.raw("select to_regclass('event_pairs') as t");
    expect(tables[0].t).toBeNull();
    await stack.db.migrate.up({ name: EVENT_PAIRS });
  });
});

describe('migration 20261201020000_drop_user_feature_affinities', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true, worker: false });
  });
  afterAll(() => stack.stop());

  const exists = async (table: string) => (await stack.db.raw('select to_regclass(?) as t', [table])).rows[0].t !== null;

  test('drops the table nothing reads since affinities are summed at read time, and gives it back on the way down', async () => {
    expect(await exists('user_feature_affinities')).toBe(false);
    await stack.db.migrate.down({ name: '20261201020000_drop_user_feature_affinities' });
    expect(await exists('user_feature_affinities')).toBe(true);
    // Every migration before it still rolls back over it (the one before restores this table's older key).
    await stack.db.migrate.down({ name: '20261201010000_event_pairs' });
    await stack.db.migrate.down({ name: '20261201000000_affinities_at_read_time' });
    await stack.db.migrate.down({ name: '20261130050000_interactions_occurred_at' });
    await stack.db.migrate.down({ name: '20261130040000_scores_without_decayed_index' });
    await stack.db.migrate.down({ name: '20261130030000_cooccurrence_pending' });
    await stack.db.migrate.down({ name: '20261130020000_feed_versions' });
    const { rows } = await stack.db.raw(
      "select column_name from information_schema.columns where table_name = 'user_feature_affinities' order by column_name",
    );
    expect(rows.map((r: { column_name: string }) => r.column_name)).toEqual(['feature', 'user_id', 'value']);
    await stack.db.migrate.latest();
    expect(await exists('user_feature_affinities')).toBe(false);
    expect(await exists('event_pairs')).toBe(true);
  });
});
