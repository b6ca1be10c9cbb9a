import type { Db } from '../data/db';
import { FOLD_BATCH, foldCooccurrence } from '../data/model-store';
import { DrainLoop } from '../jobs/drain-loop';
import type { Logger } from '../ops/logger';
import { OutageLog } from '../ops/outage-log';
import type { ModelSettings } from './model';

/**
 * Keeps the co-occurrence counts up with the stored interactions: folds the first positives the
 * workers' transactions leave in `cooccurrence_pending` (see foldCooccurrence), after commits that
 * left some, at most once every `gapMs` while they keep coming, and every `intervalMs`: a fold of
 * seconds' worth of first positives merges the pairs many users share into one row write each, where
 * a fold after every commit would write the same rows over and over. Any number may run (each worker process has one);
 * under load the collaborative signal lags the rows by up to `gapMs` and one fold.
 */
export function cooccurrenceFolder(
  db: Db,
  settings: ModelSettings,
  logger: Logger,
  options: { intervalMs?: number; gapMs?: number } = {},
): DrainLoop {
  const outage = new OutageLog(logger, 'co-occurrence fold');
  return new DrainLoop(() => db.transaction((trx) => foldCooccurrence(trx, settings, FOLD_BATCH)), {
    intervalMs: options.intervalMs ?? 1000,
    gapMs: options.gapMs ?? 3000,
    fullStep: FOLD_BATCH,
    onFailure: (error) => outage.failed(error),
    onSuccess: () => outage.recovered(),
  });
}
