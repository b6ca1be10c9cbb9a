import type { Db } from '../data/db';
import { countPositives, readFitInput, readItemModelFit, withFitLock, writeItemModel, type ItemModelFit } from '../data/item-model-store';
import { DrainLoop } from '../jobs/drain-loop';
import type { Logger } from '../ops/logger';
import { fitItemModel, MAX_HISTORY, type ItemModelSettings } from './item-model';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Positives grown by this share since the last fit make the next one due at once: a log loaded in
 * bulk is fitted a few times as it grows (each fit after ten per cent more), and once soon after it
 * ends, rather than up to `refitMs` later.
 */
export const REFIT_GROWTH = 0.1;

/**
 * However much positives grew, a fit waits until the last one's time is at most this share of the
 * time since it started: fitting takes at most a fifth of one worker core, even under a bulk load.
 */
export const MAX_FIT_SHARE = 0.2;

/** Least time between two checks of whether a fit is due, however often the worker stores rows. */
const CHECK_GAP_MS = 2000;

/**
 * Fits the item model again when it is due (see `itemModelFitter`; `olderThanMs` 0: whenever
 * positives were added since the last fit), one worker at a time; returns the fit, or undefined
 * when none was due or another worker is fitting. The inverse yields to the event loop between
 * rows: the worker's jobs and queue locks carry on meanwhile.
 */
export async function refitItemModel(db: Db, settings: ItemModelSettings, olderThanMs = 0): Promise<ItemModelFit | undefined> {
  const due = async (trx: Db) => {
    const [positives, last] = await Promise.all([countPositives(trx), readItemModelFit(trx)]);
    if (!last?.fittedAt) return positives;
    if (last.positives === positives) return undefined;
    const age = Date.now() - Date.parse(last.fittedAt);
    const grown = positives >= last.positives * (1 + REFIT_GROWTH) && age >= last.durationMs * (1 / MAX_FIT_SHARE - 1);
    return grown || age >= olderThanMs ? positives : undefined;
  };
  if ((await due(db)) === undefined) return undefined;
  return withFitLock(db, async (trx) => {
    const positives = await due(trx); // another worker may have fitted meanwhile
    if (positives === undefined) return undefined;
    const started = performance.now();
    const { candidates, histories } = await readFitInput(trx, settings.items, MAX_HISTORY);
    const fitted = await fitItemModel(histories, candidates, settings, turn);
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
 * Keeps the item model fitted in each worker process (the advisory lock lets one fit): a fit is
 * due once positives have grown REFIT_GROWTH since the last (and MAX_FIT_SHARE allows), or
 * `refitMs` after it when they changed at all. Checked after commits that stored rows (at most every CHECK_GAP_MS) and every
 * `refitMs`.
 */
export function itemModelFitter(db: Db, settings: ItemModelSettings & { refitMs: number }, logger: Logger): DrainLoop {
  return new DrainLoop(
    async () => {
      const fit = await refitItemModel(db, settings, settings.refitMs);
      if (fit) logger.info(fit, 'item model fitted');
      return 0;
    },
    {
      intervalMs: settings.refitMs,
      gapMs: Math.min(CHECK_GAP_MS, settings.refitMs),
      onFailure: (error) => logger.warn({ err: (error as Error).message }, 'item model fit failed; will retry'),
    },
  );
}
