import { createHash } from 'node:crypto';
import type { Db } from '../data/db';
import {
  countInteractions,
  FOLD_BATCH,
  foldCooccurrence,
  interactionsInPersistOrder,
  lockForRebuild,
  readModelSettings,
  resetModel,
  sqlModelStore,
  writeModelSettings,
} from '../data/model-store';
import { applyInteractions, type ModelSettings } from './model';
import { JOBS } from '../jobs/definitions';
import type { Producer } from '../jobs/producer';

/**
 * Recomputes every derived table from the interactions, in the order the workers persisted them,
 * through the same `applyInteractions` the workers run, a page at a time. One transaction: readers see the old model
 * until it commits, and interaction jobs wait (they take the rebuild lock shared) rather than
 * interleave with the replay.
 */
export async function rebuildModel(
  db: Db,
  settings: ModelSettings,
  onProgress?: (done: number, total: number) => void,
): Promise<{ interactions: number }> {
  return db.transaction(async (trx) => {
    await lockForRebuild(trx);
    await resetModel(trx);
    // First: the fold reads what the model is built with (settingsToWrite), here these.
    await writeModelSettings(trx, settings);
    const total = await countInteractions(trx);
    const store = sqlModelStore(trx);
    let done = 0;
    onProgress?.(0, total);
    for await (const page of interactionsInPersistOrder(trx)) {
      await applyInteractions(store, settings, page);
      // The same fold as the workers', so that the co-occurrence counts equal theirs.
      while ((await foldCooccurrence(trx, settings, FOLD_BATCH)) > 0);
      done += page.length;
      onProgress?.(done, total);
    }
    return { interactions: done };
  });
}

/** Whether the derived tables were built with other settings than these (or never recorded). */
export async function modelIsStale(db: Db, settings: ModelSettings): Promise<boolean> {
  const built = await readModelSettings(db);
  return !built || JSON.stringify(normalise(built)) !== JSON.stringify(normalise(settings));
}

function normalise(settings: ModelSettings): ModelSettings {
  const weights = Object.fromEntries(Object.entries(settings.weights).sort(([a], [b]) => a.localeCompare(b))) as ModelSettings['weights'];
  return {
    version: settings.version ?? 1,
    weights,
    halfLifeDays: settings.halfLifeDays,
    epoch: new Date(settings.epoch).toISOString(),
    cooccurrenceWindow: settings.cooccurrenceWindow ?? 20,
    // Models built before pairs were weighted counted each pair once, both ways.
    cooccurrenceDistanceDecay: settings.cooccurrenceDistanceDecay ?? 0,
    cooccurrenceBackward: settings.cooccurrenceBackward ?? 1,
  };
}

/**
 * Queues a rebuild when the configured settings differ from those the model was built with
 * (changed weights or half-life). Several workers starting together queue one rebuild.
 * Returns whether it queued one.
 */
export async function scheduleRebuildIfStale(db: Db, producer: Pick<Producer, 'enqueue'>, settings: ModelSettings): Promise<boolean> {
  if (!(await modelIsStale(db, settings))) return false;
  // A new database has nothing to replay: record the settings now rather than queue a rebuild
  // that would hold up the first interactions.
  if (!(await db('interactions').first('id'))) {
    await rebuildModel(db, settings);
    return false;
  }
  const digest = settingsDigest(settings);
  await producer.enqueue(
    JOBS.rebuildModel,
    { reason: `model settings changed (${digest})`, settings: digest },
    { deduplicationId: `model-rebuild-${digest}` },
  );
  return true;
}

/** A short digest of model settings: which settings a rebuild job is for. */
export function settingsDigest(settings: ModelSettings): string {
  return createHash('sha256')
    .update(JSON.stringify(normalise(settings)))
    .digest('hex')
    .slice(0, 16);
}
