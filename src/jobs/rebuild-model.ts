import { z } from 'zod';
import { rebuildModel } from '../domain/rebuild-model';
import { defineJob } from './job';

/** Rebuilds the recommendation model from every stored interaction (see src/domain/rebuild-model.ts). */
export const rebuildModelJob = defineJob({
  name: 'model.rebuild',
  payload: z.object({
    /** Why the rebuild was asked for, for the dashboard. */
    reason: z.string().max(500),
  }),
  async handle(deps, { reason }, log) {
    log.info({ reason }, 'rebuilding the recommendation model');
    const result = await rebuildModel(deps.db, deps.config.model);
    log.info(result, 'recommendation model rebuilt');
    return result;
  },
});
