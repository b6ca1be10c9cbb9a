import type { Db } from '../data/db';
import {
  countPositives,
  fitHistories,
  readFitCandidates,
  readItemModelFit,
  withFitLock,
  writeItemModel,
  type ItemModelFit,
} from '../data/item-model-store';
import { DrainLoop } from '../jobs/drain-loop';
import type { Logger } from '../ops/logger';
import { OutageLog } from '../ops/outage-log';
import { fitItemModel, MAX_HISTORY, type ItemModelSettings } from './item-model';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Positives grown by this share since the last fit make the next one due as soon as the worker is
 * quiet: a log loaded in bulk is fitted once it has been drained, not up to `refitMs` later.
 */
export const REFIT_GROWTH = 0.1;

/** Fitting takes at most a fifth of one worker core (FitWhen.maxShare). */
export const MAX_FIT_SHARE = 0.2;

/** The worker is quiet when it has stored nothing for this long: a fit brought forward by growth waits for it. */
export const QUIET_MS = 2000;

/** How often each worker asks whether a fit is due (a sum over event_popularity, a row of model_state). */
const CHECK_EVERY_MS = 5000;

/** When a fit is due (see `itemModelFitter`). */
export interface FitWhen {
  /** A change in the positives waits at most this long after the last fit (0: any change is due at once). */
  olderThanMs: number;
  /** Whether the caller's worker is quiet: only then does a grown model make a fit due before `olderThanMs`. */
  quiet: boolean;
  /** The most of one core fitting may take: a fit waits until the last one's time is at most this share of the time since it started. */
  maxShare: number;
  /** Never fitted, the model counts as fitted on nothing at this instant (ms since the epoch): a worker starting on a backlog waits for it. */
  neverFittedAt: number;
}

const AT_ONCE: FitWhen = { olderThanMs: 0, quiet: true, maxShare: 1, neverFittedAt: 0 };

/**
 * Fits the item model again when it is due, one worker at a time; returns the fit, or undefined
 * when none was due or another worker is fitting. The inverse yields to the event loop between
 * rows: the worker's jobs and queue locks carry on meanwhile.
 */
export async function refitItemModel(db: Db, settings: ItemModelSettings, when: FitWhen = AT_ONCE): Promise<ItemModelFit | undefined> {
  const due = async (trx: Db) => {
    const [positives, stored] = await Promise.all([countPositives(trx), readItemModelFit(trx)]);
    const last = stored ? { ...stored, at: Date.parse(stored.fittedAt) } : { positives: 0, durationMs: 0, at: when.neverFittedAt };
    if (last.positives === positives) return undefined;
    const age = Date.now() - last.at;
    if (age < last.durationMs * (1 / when.maxShare - 1)) return undefined;
    const grown = when.quiet && positives >= last.positives * (1 + REFIT_GROWTH);
    return grown || age >= when.olderThanMs ? positives : undefined;
  };
  if ((await due(db)) === undefined) return undefined;
  return withFitLock(db, async (trx) => {
    const positives = await due(trx); // another worker may have fitted meanwhile
    if (positives === undefined) return undefined;
    const started = performance.now();
    const { candidates, upcoming } = await readFitCandidates(trx, settings.items);
    const histories = fitHistories(trx, candidates, MAX_HISTORY);
    const fitted = await fitItemModel(histories, candidates, settings, { pause: turn, recommendable: (place) => upcoming[place]! });
    const fit = {
      positives,
      items: fitted.items,
      users: fitted.users,
      durationMs: Math.round(performance.now() - started),
      fittedAt: new Date().toISOString(),
    };
    await writeItemModel(trx, fitted.neighbours, fit);
    return fit;
  });
}

/**
 * Keeps the item model fitted from each worker process (the advisory lock lets one fit at a time).
 * A fit is due when the positives changed since the last and either the last is `refitMs` old, or
 * they grew REFIT_GROWTH and this worker has stored nothing for QUIET_MS; never more often than
 * MAX_FIT_SHARE allows. So a sustained load is fitted every `refitMs`, and a bulk load once it is
 * drained. `stored()` is told after each commit that stored rows.
 */
export function itemModelFitter(db: Db, settings: ItemModelSettings & { refitMs: number }, logger: Logger) {
  // Busy until shown otherwise: a worker starting on a backlog has not stored anything yet.
  let lastStoreAt = performance.now();
  const neverFittedAt = Date.now();
  const outage = new OutageLog(logger, 'item model fit');
  const loop = new DrainLoop(
    async () => {
      const quiet = performance.now() - lastStoreAt >= QUIET_MS;
      const fit = await refitItemModel(db, settings, { olderThanMs: settings.refitMs, quiet, maxShare: MAX_FIT_SHARE, neverFittedAt });
      if (fit) logger.info(fit, 'item model fitted');
      return 0;
    },
    {
      intervalMs: Math.min(CHECK_EVERY_MS, settings.refitMs),
      onFailure: (error) => outage.failed(error),
      onSuccess: () => outage.recovered(),
    },
  );
  return {
    start: () => loop.start(),
    stop: () => loop.stop(),
    stored(): void {
      lastStoreAt = performance.now();
    },
  };
}
