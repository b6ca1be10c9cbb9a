import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { connectRedis } from '../data/redis';
import { jobDefinition, QUEUES } from './definitions';
import { isSignedJob } from './signature';
import { InteractionWriter } from './interaction-writer';
import type { JobDefinition, WorkerDeps } from './job';
import { store } from './record-interactions';

export type { WorkerDeps } from './job';

/** Handles one job: finds its definition, validates its payload again, then runs its handler. Safe to run twice for one job. */
export async function processJob(deps: WorkerDeps, job: Pick<Job, 'id' | 'name' | 'data'>): Promise<unknown> {
  const definition = jobDefinition(job.name);
  // A job of a newer release, during a rolling deploy: retried (with backoff), so that a worker that
  // knows it takes it, rather than failed for good with what it records.
  if (!definition) throw new Error(`Unknown job name "${job.name}": left for a worker of the release that queued it`);
  return definition.handle(deps, parse(deps, job, definition), deps.logger.child({ jobId: job.id, jobName: job.name }));
}

/** The job's payload, once it is well-formed and signed by the service (see signJob). */
function parse(deps: WorkerDeps, job: Pick<Job, 'data'>, definition: JobDefinition): unknown {
  const parsed = definition.payload.safeParse(job.data);
  if (!parsed.success) {
    // Retrying cannot fix a malformed payload: fail at once, with the reason visible in the dashboard.
    throw new UnrecoverableError(`Invalid payload: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  if (!isSignedJob(deps.config.jobSigningKey, definition.name, job.data as Record<string, unknown>, parsed.data)) {
    throw new UnrecoverableError('Refused: the payload does not carry the signature of the service that accepts interactions');
  }
  return parsed.data;
}

/** The worker of the interactions queue. Errors other than UnrecoverableError are retried with backoff. */
export function createInteractionWorker(baseDeps: WorkerDeps): Worker {
  const deps: WorkerDeps = {
    ...baseDeps,
    writer: new InteractionWriter((payloads) => store(baseDeps, payloads), baseDeps.config.worker.transactions),
  };
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
  // Reconnect within 5 s of Redis coming back (BullMQ's default backs off to 20 s).
  const retryStrategy = (attempt: number) => Math.min(attempt * 500, 5000);
  // A cluster or Sentinel client is made here and handed over; from options, BullMQ makes (and
  // closes) its own.
  const shared = (deps.config.redisClusterNodes || deps.config.redisSentinel) && connectRedis(deps.config, { retryDelayMs: retryStrategy });
  const worker = new Worker(QUEUES.interactions, timed, {
    connection: shared || { url: deps.config.redisUrl, maxRetriesPerRequest: null, retryStrategy },
    prefix: deps.config.queuePrefix,
    concurrency: deps.config.worker.concurrency,
    // A job whose worker died (SIGKILL, lost host) is redelivered once its claim lapses; BullMQ's
    // default fails it the second time, which would drop accepted interactions. Jobs are
    // idempotent: redeliver freely.
    lockDuration: deps.config.worker.lockMs,
    stalledInterval: deps.config.worker.lockMs,
    maxStalledCount: 50,
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
  if (shared) worker.once('closed', () => shared.disconnect());
  return worker;
}
