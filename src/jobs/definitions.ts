import { z } from 'zod';
import type { DefaultJobOptions } from 'bullmq';
import { isUuid } from '../domain/ids';
import { ACTIONS } from '../domain/weights';
import type { Config } from '../config';

/** Queue names; with the prefix they make the Redis keys, so they never change once deployed. */
export const QUEUES = { interactions: 'interactions' } as const;

export const SOURCES = ['api', 'collection', 'gig_application'] as const;

/** Job names, each paired with the schema of its payload. Stable: jobs outlive deployments. */
export const JOBS = {
  /**
   * Records interactions: one or more, accepted together (the API's group commit, or one from the
   * outbox of collections and gigs). One job, one transaction.
   */
  recordInteractions: 'interaction.batch',
  rebuildModel: 'model.rebuild',
  /** Records feed pages served (feed_impressions), batched by the web process. */
  recordImpressions: 'feed.impressions',
} as const;

/**
 * The name single interactions were queued under before every recording became a batch. Jobs and
 * outbox rows of it may still wait in a deployment being upgraded: the worker takes one as a batch
 * of one. Nothing queues it any more.
 */
export const LEGACY_RECORD_INTERACTION = 'interaction.record';

const recordInteractionPayload = z.object({
  /** UUIDv7 (or v5 of an Idempotency-Key) made by the API: the row's primary key. */
  id: z.uuid(),
  userId: z.string().min(1).max(255),
  eventId: z.string().refine(isUuid, 'must be a UUID'),
  action: z.enum(ACTIONS),
  source: z.enum(SOURCES),
  /** When the API accepted the interaction (becomes interactions.created_at). */
  acceptedAt: z.iso.datetime({ precision: 6 }),
  /**
   * When the user acted, by the client's clock corrected for skew (interactions.occurred_at);
   * absent when the client sent no time, and in jobs queued before it existed: then acceptedAt.
   */
  occurredAt: z.iso.datetime().optional(),
  /** The feed ranking the client said it came from (GET /recommendations' recommendationId). */
  recommendationId: z.string().min(1).max(200).optional(),
});

const impressionPayload = z.object({
  /** Made when the page was served: a job delivered twice stores it once. */
  id: z.uuid(),
  servedAt: z.iso.datetime({ precision: 3 }),
  userId: z.string().min(1).max(255),
  rankingId: z.string().min(1).max(200),
  variant: z.string().min(1).max(100),
  settingsVersion: z.number().int().positive(),
  eventIds: z.array(z.uuid()).max(100),
  positions: z.array(z.number().int().positive()).max(100),
});
export type ImpressionPayload = z.infer<typeof impressionPayload>;

/** Most impressions one job carries. */
export const MAX_IMPRESSIONS_PER_JOB = 1000;

/** Most interactions one job carries. */
export const MAX_INTERACTIONS_PER_JOB = 500;

export const jobPayloads = {
  [LEGACY_RECORD_INTERACTION]: recordInteractionPayload,
  [JOBS.recordInteractions]: z.object({ interactions: z.array(recordInteractionPayload).min(1).max(MAX_INTERACTIONS_PER_JOB) }),
  [JOBS.recordImpressions]: z.object({ impressions: z.array(impressionPayload).min(1).max(MAX_IMPRESSIONS_PER_JOB) }),
  [JOBS.rebuildModel]: z.object({
    /** Why the rebuild was asked for, for the dashboard. */
    reason: z.string().max(500),
  }),
} as const;

export type JobName = keyof typeof jobPayloads;
export type JobPayload<N extends JobName> = z.infer<(typeof jobPayloads)[N]>;
export type RecordInteractionPayload = z.infer<typeof recordInteractionPayload>;

/**
 * Interactions the completed jobs kept for the dashboard may carry at most (about 320 bytes of
 * Redis each): the cap counts jobs, and a job carries up to MAX_INTERACTIONS_PER_JOB, so the number
 * of jobs kept is derived from it. Memory then stays bounded whatever the load (about 32 MB).
 */
export const COMPLETED_INTERACTIONS_KEPT = 100_000;

/** Every job's defaults, in one place: retried with backoff, trimmed once done, kept when failed. */
export function defaultJobOptions(config: Pick<Config, 'jobs'>): DefaultJobOptions {
  return {
    attempts: config.jobs.attempts,
    backoff: { type: 'exponential', delay: config.jobs.backoffMs },
    // The last hour's, and at most the last 200 jobs.
    removeOnComplete: { age: 60 * 60, count: Math.floor(COMPLETED_INTERACTIONS_KEPT / MAX_INTERACTIONS_PER_JOB) },
    removeOnFail: { age: 14 * 24 * 60 * 60 },
  };
}
