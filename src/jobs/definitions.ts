import type { z } from 'zod';
import type { DefaultJobOptions } from 'bullmq';
import type { Config } from '../config';
import type { JobDefinition } from './job';
import { rebuildModelJob } from './rebuild-model';
import { recordImpressionsJob } from './record-impressions';
import { legacyRecordInteractionJob, MAX_INTERACTIONS_PER_JOB, recordInteractionsJob } from './record-interactions';

export { MAX_INTERACTIONS_PER_JOB, SOURCES, type RecordInteractionPayload } from './record-interactions';
export { MAX_IMPRESSIONS_PER_JOB, type ImpressionPayload } from './record-impressions';

/** Queue names; with the prefix they make the Redis keys, so they never change once deployed. */
export const QUEUES = { interactions: 'interactions' } as const;

/** Every job the worker runs, each defined in its own file with its payload's schema and its handler. */
export const JOB_DEFINITIONS = [recordInteractionsJob, legacyRecordInteractionJob, recordImpressionsJob, rebuildModelJob] as const;

/** The names jobs are queued under. */
export const JOBS = {
  recordInteractions: recordInteractionsJob.name,
  rebuildModel: rebuildModelJob.name,
  recordImpressions: recordImpressionsJob.name,
} as const;

export const LEGACY_RECORD_INTERACTION = legacyRecordInteractionJob.name;

type Definition = (typeof JOB_DEFINITIONS)[number];
export type JobName = Definition['name'];
export type JobPayload<N extends JobName> = z.infer<Extract<Definition, { name: N }>['payload']>;

/** Each job's payload schema, by name (the producer and the outbox validate with them). */
export const jobPayloads = Object.fromEntries(JOB_DEFINITIONS.map((job) => [job.name, job.payload])) as {
  [N in JobName]: Extract<Definition, { name: N }>['payload'];
};

/** The definition of a job name, if the worker knows it. */
export const jobDefinition = (name: string): JobDefinition | undefined =>
  (JOB_DEFINITIONS as readonly JobDefinition[]).find((job) => job.name === name);

/**
 * Interactions the completed jobs kept for the dashboard may carry at most (about 320 bytes of
 * Redis each): the cap counts jobs, and a job carries up to MAX_INTERACTIONS_PER_JOB, so the number
 * of jobs kept is derived from it. Memory then stays bounded whatever the load (about 32 MB). The
 * impressions' jobs, a megabyte each, are deleted once done (JobDefinition.keepCompleted).
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
