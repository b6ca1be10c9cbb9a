import { z } from 'zod';
import { insertImpressions, pruneImpressions } from '../data/impressions';
import { isUuid } from '../domain/ids';
import { defineJob } from './job';

const impressionPayload = z.object({
  /** Made when the page was served: a job delivered twice stores it once. */
  id: z.uuid(),
  servedAt: z.iso.datetime({ precision: 3 }),
  userId: z.string().min(1).max(255),
  rankingId: z.string().min(1).max(200),
  variant: z.string().min(1).max(100),
  settingsVersion: z.number().int().positive(),
  // Any UUID PostgreSQL takes, as events' ids may be (imported ones, say), not only RFC 4122's.
  eventIds: z.array(z.string().refine(isUuid, 'must be a UUID')).max(100),
  positions: z.array(z.number().int().positive()).max(100),
});
export type ImpressionPayload = z.infer<typeof impressionPayload>;

/** Most impressions one job carries. */
export const MAX_IMPRESSIONS_PER_JOB = 1000;

let prunedAt = 0;

/** Records feed pages served (feed_impressions), batched by the web process; prunes old ones. */
export const recordImpressionsJob = defineJob({
  name: 'feed.impressions',
  payload: z.object({ impressions: z.array(impressionPayload).min(1).max(MAX_IMPRESSIONS_PER_JOB) }),
  // A job of a thousand pages is about a megabyte: kept under the cap on completed jobs, sized for
  // interactions (COMPLETED_INTERACTIONS_KEPT), they would hold hundreds of megabytes of Redis.
  keepCompleted: false,
  async handle(deps, { impressions }, log) {
    const stored = await insertImpressions(deps.db, impressions);
    // Retention rides on the writes: at most once an hour per process, whatever the traffic.
    if (Date.now() - prunedAt > 3_600_000) {
      prunedAt = Date.now();
      const pruned = await pruneImpressions(deps.db, deps.config.feedImpressions.retentionDays);
      if (pruned > 0) log.info({ pruned }, 'old feed impressions deleted');
    }
    return { stored };
  },
});
