import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { connectRedis } from '../data/redis';
import type { z } from 'zod';
import type { Config } from '../config';
import type { Db } from '../data/db';
import { insertImpressions, pruneImpressions } from '../data/impressions';
import { persistInteractions } from '../domain/persist-interaction';
import { rebuildModel } from '../domain/rebuild-model';
import { JOBS, jobPayloads, LEGACY_RECORD_INTERACTION, QUEUES, type JobName, type RecordInteractionPayload } from './definitions';
import { isSignedJob } from './signature';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { counts, InteractionWriter, type WriteResult } from './interaction-writer';

export interface WorkerDeps {
  config: Config;
  db: Db;
  logger: Logger;
  metrics?: Metrics;
  /** Shares transactions between the jobs in hand; without it, each job is its own transaction. */
  writer?: InteractionWriter;
  /** Told after a commit that stored rows (the co-occurrence fold has work). */
  afterStore?: () => void;
}

/** Stores interactions and returns the ids of the rows it inserted. */
async function store(deps: WorkerDeps, payloads: RecordInteractionPayload[]): Promise<Set<string>> {
  const inserted = await persistInteractions(deps.db, deps.config.model, payloads);
  if (inserted.size > 0) deps.afterStore?.();
  return inserted;
}

let impressionsPrunedAt = 0;

/** Handles one job: validates its payload again, then calls the domain. Safe to run twice for one job. */
export async function processJob(deps: WorkerDeps, job: Pick<Job, 'id' | 'name' | 'data'>): Promise<unknown> {
  const log = deps.logger.child({ jobId: job.id, jobName: job.name });
  switch (job.name) {
    case LEGACY_RECORD_INTERACTION:
    case JOBS.recordInteractions: {
      const interactions =
        job.name === JOBS.recordInteractions
          ? parse(deps, job, JOBS.recordInteractions).interactions
          : [parse(deps, job, LEGACY_RECORD_INTERACTION)];
      const result = await persist(deps, interactions);
      log.debug(result, 'interactions persisted');
      return result;
    }
    case JOBS.recordImpressions: {
      const { impressions } = parse(deps, job, JOBS.recordImpressions);
      const stored = await insertImpressions(deps.db, impressions);
      // Retention rides on the writes: at most once an hour per process, whatever the traffic.
      if (Date.now() - impressionsPrunedAt > 3_600_000) {
        impressionsPrunedAt = Date.now();
        const pruned = await pruneImpressions(deps.db, deps.config.feedImpressions.retentionDays);
        if (pruned > 0) log.info({ pruned }, 'old feed impressions deleted');
      }
      return { stored };
    }
    case JOBS.rebuildModel: {
      const { reason } = parse(deps, job, JOBS.rebuildModel);
      log.info({ reason }, 'rebuilding the recommendation model');
      const result = await rebuildModel(deps.db, deps.config.model);
      log.info(result, 'recommendation model rebuilt');
      return result;
    }
    default:
      throw new UnrecoverableError(`Unknown job name "${job.name}"`);
  }
}

async function persist(deps: WorkerDeps, payloads: RecordInteractionPayload[]): Promise<WriteResult> {
  const write = deps.writer
    ? (p: RecordInteractionPayload[]) => deps.writer!.write(p)
    : async (p: RecordInteractionPayload[]) => counts(p, await store(deps, p));
  const result = await write(payloads).catch(async (error: unknown) => {
    if (!isDataError(error)) throw error; // connection lost, deadlock, timeout: retried with backoff
    if (payloads.length === 1) throw new UnrecoverableError(`Cannot be stored ${dataErrorMessage(error)}`);
    return persistOneByOne(deps, payloads);
  });
  const now = Date.now();
  if (result.inserted > 0) for (const p of payloads) deps.metrics?.persistLag.observe((now - Date.parse(p.acceptedAt)) / 1000);
  return result;
}

/**
 * A value PostgreSQL cannot store fails the same way on every retry. In a batch, one such row must
 * not hold back the others: each is stored on its own, and the job then fails for good, naming the
 * rows that could not be stored (a retry from the dashboard re-runs only those; the rest are no-ops).
 */
async function persistOneByOne(deps: WorkerDeps, payloads: RecordInteractionPayload[]): Promise<WriteResult> {
  const total = { inserted: 0, duplicates: 0 };
  const refused: string[] = [];
  for (const payload of payloads) {
    try {
      const one = counts([payload], await store(deps, [payload]));
      total.inserted += one.inserted;
      total.duplicates += one.duplicates;
    } catch (error) {
      if (!isDataError(error)) throw error;
      refused.push(`${payload.id} ${dataErrorMessage(error)}`);
    }
  }
  if (refused.length > 0) throw new UnrecoverableError(`Cannot be stored (${refused.length} of ${payloads.length}): ${refused.join('; ')}`);
  return total;
}

/** PostgreSQL's data and integrity errors (classes 22 and 23): a value it cannot store. */
function isDataError(error: unknown): boolean {
  const code = (nativeError(error) as { code?: unknown }).code;
  return typeof code === 'string' && /^2[23]/.test(code);
}

function dataErrorMessage(error: unknown): string {
  const native = nativeError(error) as { code?: string; message?: string };
  return `(PostgreSQL ${native.code}): ${native.message}`;
}

const nativeError = (error: unknown) => (error as { nativeError?: unknown }).nativeError ?? error;

/** The job's payload, once it is well-formed and signed by the service (see signJob). */
function parse<N extends JobName>(deps: WorkerDeps, job: Pick<Job, 'data'>, name: N): z.infer<(typeof jobPayloads)[N]> {
  const parsed = jobPayloads[name].safeParse(job.data);
  if (!parsed.success) {
    // Retrying cannot fix a malformed payload: fail at once, with the reason visible in the dashboard.
    throw new UnrecoverableError(`Invalid payload: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  if (!isSignedJob(deps.config.jobSigningKey, name, parsed.data, (job.data as { sig?: unknown }).sig)) {
    throw new UnrecoverableError('Refused: the payload does not carry the signature of the service that accepts interactions');
  }
  return parsed.data as z.infer<(typeof jobPayloads)[N]>;
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
