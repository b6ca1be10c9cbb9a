import type { Db } from '../data/db';
import { FOLD_BATCH, foldCooccurrence } from '../data/model-store';
import { DrainLoop } from '../jobs/drain-loop';
import type { Logger } from '../logger';
import type { CooccurrencePairing } from './model';

/**
 * Keeps the co-occurrence counts up with the stored interactions: folds the first positives the
 * workers' transactions leave in `cooccurrence_pending` (see foldCooccurrence), after each commit
 * that left some and every `intervalMs`. Any number may run (each worker process has one); the
 * collaborative signal lags the rows by about one fold.
 */
export function cooccurrenceFolder(db: Db, pairing: CooccurrencePairing, logger: Logger, options: { intervalMs?: number } = {}): DrainLoop {
  return new DrainLoop(() => db.transaction((trx) => foldCooccurrence(trx, pairing, FOLD_BATCH)), {
    intervalMs: options.intervalMs ?? 500,
    onFailure: (error) => logger.warn({ err: (error as Error).message }, 'co-occurrence fold failed; will retry'),
  });
}
