import type { Db } from '../../src/data/db';
import type { ModelSettings } from '../../src/domain/model';
import { rebuildModel } from '../../src/domain/rebuild-model';
import { FOLD_BATCH, foldCooccurrence } from '../../src/data/model-store';
import { sleep, waitFor } from './wait';

/**
 * Folds every first positive still waiting into the co-occurrence counts (what the workers' folder
 * does). A fold skips the rows a running worker's fold has taken (SKIP LOCKED), so this also waits
 * until that fold has committed: read before it, the counts would lack its pairs.
 */
export async function foldAll(db: Db, settings: ModelSettings): Promise<void> {
  for (;;) {
    while ((await db.transaction((trx) => foldCooccurrence(trx, settings, FOLD_BATCH))) > 0);
    if ((await db('cooccurrence_pending').count({ n: '*' }))[0]!.n === '0') return;
    await sleep(20);
  }
}

/** Waits for the worker's folder to take every first positive still waiting: it folds a moment after the rows. */
export async function waitForFold(db: Db): Promise<void> {
  await waitFor('the first positives folded', async () => (await db('cooccurrence_pending').count({ n: '*' }))[0]!.n === '0');
}

/** `event_pairs` with each direction of a pair as a row of its own, as the feed reads them. */
export const DIRECTED_COOCCURRENCE = `
  select event_id, other_event_id, value
    from (select low_event_id as event_id, high_event_id as other_event_id, low_to_high as value from event_pairs
          union all select high_event_id, low_event_id, high_to_low from event_pairs) both_ways
   where value > 0`;

/** Every derived table, in a stable order, for comparison. */
export async function modelState(db: Db) {
  const [pairs, popularity, cooccurrence] = await Promise.all([
    db.raw(`select user_id, event_id, score, interaction_count, last_interaction_at, decayed, feature_weight, positive_at, dismissed_at,
                   applied_at
              from user_event_scores order by user_id, event_id`),
    db.raw('select event_id, value, engaged from event_popularity order by event_id'),
    db.raw(`select * from (${DIRECTED_COOCCURRENCE}) directed order by event_id, other_event_id`),
  ]);
  return { pairs: pairs.rows, popularity: popularity.rows, cooccurrence: cooccurrence.rows } as Record<string, Record<string, unknown>[]>;
}

/** Equal, but for the last bits of sums added up in another order across users. */
export function expectSameModel(actual: Record<string, Record<string, unknown>[]>, expected: Record<string, Record<string, unknown>[]>) {
  for (const table of Object.keys(expected)) {
    expect({ table, rows: actual[table]!.length }).toEqual({ table, rows: expected[table]!.length });
    expected[table]!.forEach((row, i) => {
      for (const [column, value] of Object.entries(row)) {
        const got = actual[table]![i]![column];
        // A difference names its table, row and column, so that a rare failure says where the model drifted.
        const same = typeof value === 'number' ? Math.abs((got as number) - value) <= 1e-9 * Math.max(1, Math.abs(value)) : undefined;
        if (same === false) expect({ table, row, column, value: got }).toEqual({ table, row, column, value });
        else if (same === undefined) expect({ table, column, value: got }).toEqual({ table, column, value });
      }
    });
  }
}

/** The model the workers built incrementally is the one a rebuild from the rows yields: nothing applied twice or missed. */
export async function expectModelToEqualRebuild(db: Db, settings: ModelSettings): Promise<void> {
  await foldAll(db, settings);
  const incremental = await modelState(db);
  expect(incremental.pairs!.length).toBeGreaterThan(0);
  await rebuildModel(db, settings);
  expectSameModel(await modelState(db), incremental);
}
