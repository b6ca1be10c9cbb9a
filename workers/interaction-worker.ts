import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Config } from '../src/config';
import type { Db } from '../src/data/db';
import { persistInteraction } from '../src/domain/persist-interaction';
import { JOBS, jobPayloads, QUEUES } from '../src/jobs/definitions';
import type { Logger } from '../src/logger';

export interface WorkerDeps {
  config: Config;
  db: Db;
  logger: Logger;
}

/** Handles one job: validates its payload again, then persists. Safe to run twice for one job. */
export async function processInteractionJob(deps: WorkerDeps, job: Pick<Job, 'id' | 'name' | 'data'>): Promise<{ inserted: boolean }> {
  if (job.name !== JOBS.recordInteraction) {
    throw new UnrecoverableError(`Unknown job name "${job.name}"`);
  }
  const parsed = jobPayloads[JOBS.recordInteraction].safeParse(job.data);
  if (!parsed.success) {
    // Retrying cannot fix a malformed payload: fail at once, with the reason visible in the dashboard.
    throw new UnrecoverableError(`Invalid payload: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const result = await persistInteraction(deps.db, deps.config.weights, parsed.data);
  deps.logger.debug({ jobId: job.id, inserted: result.inserted }, 'interaction persisted');
  return result;
}

/** The worker of the interactions queue. Errors other than UnrecoverableError are retried with backoff. */
export function createInteractionWorker(deps: WorkerDeps): Worker {
  const worker = new Worker(QUEUES.interactions, (job) => processInteractionJob(deps, job), {
    connection: { url: deps.config.redisUrl, maxRetriesPerRequest: null },
    prefix: deps.config.queuePrefix,
    concurrency: deps.config.worker.concurrency,
  });
  worker.on('failed', (job, error) => {
    deps.logger.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: error.message }, 'job failed');
  });
  let lastErrorLog = 0;
  worker.on('error', (error) => {
    if (Date.now() - lastErrorLog > 10_000) {
      lastErrorLog = Date.now();
      deps.logger.warn({ err: error.message }, 'worker error');
    }
  });
  return worker;
}
