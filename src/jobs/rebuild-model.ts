import { z } from 'zod';
import { modelIsStale, rebuildModel, settingsDigest } from '../domain/rebuild-model';
import { defineJob } from './job';

/**
 * Rebuilds the recommendation model from every stored interaction (see src/domain/rebuild-model.ts),
 * with the settings of the worker that queued it: in a rolling deploy that changes them, a worker of
 * the release before may take the job first, and would rebuild with the old ones. It fails the
 * attempt instead, and a worker that has those settings takes the job when it is retried.
 */
export const rebuildModelJob = defineJob({
  name: 'model.rebuild',
  payload: z.object({
    /** Why the rebuild was asked for, for the dashboard. */
    reason: z.string().max(500),
    /** settingsDigest of the settings to rebuild with; absent in jobs of releases before it. */
    settings: z.string().max(64).optional(),
  }),
  async handle(deps, { reason, settings }, log) {
    const own = settingsDigest(deps.config.model);
    if (settings !== undefined && settings !== own) {
      throw new Error(`queued for model settings ${settings}, this worker has ${own}: left to a worker that has them`);
    }
    if (!(await modelIsStale(deps.db, deps.config.model))) {
      log.info({ reason }, 'the recommendation model is already built with these settings');
      return { interactions: 0, skipped: true };
    }
    log.info({ reason }, 'rebuilding the recommendation model');
    const result = await rebuildModel(deps.db, deps.config.model);
    log.info(result, 'recommendation model rebuilt');
    return result;
  },
});
