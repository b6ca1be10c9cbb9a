import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../src/config';
import type { Db } from '../src/data/db';
import { persistInteraction } from '../src/domain/persist-interaction';
import { rebuildModel } from '../src/domain/rebuild-model';
import { JOBS, jobPayloads, QUEUES, type JobName } from '../src/jobs/definitions';
import type { Logger } from '../src/logger';
import type { Metrics } from '../src/metrics';

export interface WorkerDeps {
  config: Config;
  db: Db;
  logger: Logger;
  metrics?: Metrics;
}

/** Handles one job: validates its payload again, then calls the domain. Safe to run twice for one job. */
export async function processJob(deps: WorkerDeps, job: Pick<Job, 'id' | 'name' | 'data'>): Promise<unknown> {
  const log = deps.logger.child({ jobId: job.id, jobName: job.name });
  switch (job.name) {
    case JOBS.recordInteraction: {
      const payload = parse(job, JOBS.recordInteraction);
      const result = await persistInteraction(deps.db, deps.config.model, payload).catch(failForGoodIfDataError);
      if (result.inserted) deps.metrics?.persistLag.observe((Date.now() - Date.parse(payload.acceptedAt)) / 1000);
      log.debug({ inserted: result.inserted }, 'interaction persisted');
      return result;
    }
    case JOBS.rebuildModel: {
      const { reason } = parse(job, JOBS.rebuildModel);
      log.info({ reason }, 'rebuilding the recommendation model');
      const result = await rebuildModel(deps.db, deps.config.model);
      log.info(result, 'recommendation model rebuilt');
      return result;
    }
    default:
      throw new UnrecoverableError(`Unknown job name "${job.name}"`);
  }
}

/**
 * PostgreSQL's data and integrity errors (classes 22 and 23: a value it cannot store) fail the same
 * way on every retry: fail the job at once with the reason, instead of retrying for hours.
 * Anything else (connection lost, deadlock, timeout) is rethrown and retried with backoff.
 */
function failForGoodIfDataError(error: unknown): never {
  const native = (error as { nativeError?: unknown }).nativeError ?? error;
  const code = (native as { code?: unknown }).code;
  if (typeof code === 'string' && /^2[23]/.test(code)) {
    throw new UnrecoverableError(`Cannot be stored (PostgreSQL ${code}): ${(native as Error).message}`);
  }
  throw error;
}

function parse<N extends JobName>(job: Pick<Job, 'data'>, name: N): z.infer<(typeof jobPayloads)[N]> {
  const parsed = jobPayloads[name].safeParse(job.data);
  if (!parsed.success) {
    // Retrying cannot fix a malformed payload: fail at once, with the reason visible in the dashboard.
    throw new UnrecoverableError(`Invalid payload: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data as z.infer<(typeof jobPayloads)[N]>;
}

/** The worker of the interactions queue. Errors other than UnrecoverableError are retried with backoff. */
export function createInteractionWorker(deps: WorkerDeps): Worker {
  const timed = async (job: Job) => {
    const stop = deps.metrics?.jobDuration.startTimer({ job_name: job.name });
    try {
      const result = await processJob(deps, job);
      stop?.({ outcome: 'completed' });
      return result;
    } catch (error) {
      stop?.({ outcome: 'failed' });
      throw error;
    }
  };
  const worker = new Worker(QUEUES.interactions, timed, {
    // Reconnect within 5 s of Redis coming back (BullMQ's default backs off to 20 s).
    connection: {
      url: deps.config.redisUrl,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt: number) => Math.min(attempt * 500, 5000),
    },
    prefix: deps.config.queuePrefix,
    concurrency: deps.config.worker.concurrency,
  });
  worker.on('failed', (job, error) => {
    const final = !job || error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    deps.metrics?.jobFailures.inc({ job_name: job?.name ?? 'unknown', final: String(final) });
    deps.logger.warn({ jobId: job?.id, jobName: job?.name, attempt: job?.attemptsMade, final, err: error.message }, 'job failed');
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
