import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import { closeRedis, createFailFastRedis, type RedisClient } from '../data/redis';
import { beforeDeadline } from '../ops/deadline';
import { ServiceUnavailableError } from '../errors';
import type { Logger } from '../ops/logger';
import { OutageLog } from '../ops/outage-log';
import { v7 as uuidv7 } from 'uuid';
import {
  defaultJobOptions,
  jobDefinition,
  jobPayloads,
  JOBS,
  MAX_INTERACTIONS_PER_JOB,
  QUEUES,
  type JobName,
  type JobPayload,
  type RecordInteractionPayload,
} from './definitions';
import { signJob } from './signature';

interface EnqueueOptions {
  jobId?: string;
  deduplicationId?: string;
  withdrawOnFailure?: boolean;
  deadline?: number;
}

/** The one way jobs enter the queue. */
export interface Producer {
  /**
   * Resolves once Redis has stored the job, signed (see signJob); throws ServiceUnavailableError
   * when it cannot by `deadline` (epoch ms; default ENQUEUE_TIMEOUT_MS from now). `jobId` makes a
   * retried enqueue a no-op; `deduplicationId` keeps one such job waiting or running.
   * `withdrawOnFailure`: when Redis does not confirm in time, also ask it to drop the job, so that
   * a 503 does not leave a job behind (only for a job id no one else can have used).
   */
  enqueue<N extends JobName>(name: N, payload: JobPayload<N>, options?: EnqueueOptions): Promise<void>;
  /**
   * Queues accepted interactions (1 to MAX_INTERACTIONS_PER_JOB, all in one job), resolving once
   * Redis has stored them. Interactions arriving together (within one turn of the event loop) share
   * one job: under load, one Redis write and one database transaction carry hundreds of them. Throws
   * ServiceUnavailableError when it cannot by `deadline` (epoch ms), and then leaves none of them
   * queued.
   */
  enqueueInteractions(payloads: RecordInteractionPayload[], deadline?: number): Promise<void>;
  /** The job data the worker accepts for this payload: the payload and its signature. */
  signed<N extends JobName>(name: N, payload: JobPayload<N>): JobPayload<N> & { sig: string };
  readonly queue: Queue;
  /** The producer's own Redis connection (fail-fast: no offline queue). */
  readonly connection: RedisClient;
  /** Whether Redis answers (for readiness probes). */
  ping(): Promise<boolean>;
  /** Whether Redis takes a write now: false while it is away, or full and refusing writes. */
  writable(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * How long a job waiting for its replicas is held back at most (see add): longer than any request's
 * deadline (2 s), so a job answered 503 is withdrawn before it could run; short, so a release lost
 * in a failover delays the job by seconds only.
 */
const HELD_UNTIL_REPLICATED_MS = 5_000;

/** Less time left than this (or a quarter of ENQUEUE_TIMEOUT_MS, if less), a caller's interactions are not sent (see flush). */
const MIN_SEND_MS = 200;

/** The 503 of every enqueue that did not happen: Redis away or slow, or no time left for it. */
const queueUnavailable = (cause?: unknown) => new ServiceUnavailableError('The interaction queue is unavailable; retry shortly', { cause });

export function createProducer(config: Config, logger: Logger): Producer {
  const connection = createFailFastRedis(config, { commandTimeoutMs: config.enqueueTimeoutMs, label: 'producer' }, logger);
  const queue = new Queue(QUEUES.interactions, {
    connection,
    prefix: config.queuePrefix,
    defaultJobOptions: defaultJobOptions(config),
  });
  queue.on('error', () => undefined); // already reported by the connection
  const outage = new OutageLog(logger, 'the queue (Redis)');
  const minSendMs = Math.min(MIN_SEND_MS, config.enqueueTimeoutMs / 4);

  // Group commit: one job at a time is on its way to Redis, and whatever arrives meanwhile goes in
  // the next one. Under load, jobs grow by themselves; when idle, each goes at once. A job that is
  // slow (a stalled Redis) holds the next one back 20 ms at most, so every request still gets its
  // answer (or its 503) within the enqueue timeout of its own.
  // One entry per caller: its interactions travel in one job, whatever else joins it.
  let pending: { payloads: RecordInteractionPayload[]; deadline: number; done: (error?: unknown) => void }[] = [];
  let inFlight = 0;
  let lastSentAt = 0;
  let retry: NodeJS.Timeout | undefined;
  const flush = () => {
    if (pending.length === 0) return;
    const wait = inFlight > 0 ? lastSentAt + 20 - Date.now() : 0;
    if (wait > 0) {
      retry ??= setTimeout(() => {
        retry = undefined;
        flush();
      }, wait);
      return;
    }
    // A caller with almost no time left (its events were slow to check, say) is answered 503 alone,
    // nothing sent: in the job, its deadline would be everyone's, and a job that outlives its
    // deadline may be taken by a worker before it can be withdrawn.
    const cutoff = Date.now() + minSendMs;
    if (pending.some((p) => p.deadline <= cutoff)) {
      const late = pending.filter((p) => p.deadline <= cutoff);
      pending = pending.filter((p) => p.deadline > cutoff);
      for (const p of late) p.done(queueUnavailable());
      if (pending.length === 0) return;
    }
    let size = 0;
    let taken = 0;
    while (taken < pending.length && (taken === 0 || size + pending[taken]!.payloads.length <= MAX_INTERACTIONS_PER_JOB)) {
      size += pending[taken]!.payloads.length;
      taken += 1;
    }
    const batch = pending.splice(0, taken);
    inFlight += 1;
    lastSentAt = Date.now();
    // A fresh job id that no earlier request can have used, so withdrawing it after a timeout is safe.
    // The batch answers by the earliest deadline among its requests (they arrived together).
    const deadline = Math.min(...batch.map((b) => b.deadline));
    // Payloads the service made itself (recordInteraction's stamp, in the schema's key order): signed
    // as they are, not parsed a second time on the hot path.
    const data = { interactions: batch.flatMap((b) => b.payloads) };
    add(
      JOBS.recordInteractions,
      { ...data, sig: signJob(config.jobSigningKey, JOBS.recordInteractions, data) },
      {
        jobId: uuidv7(),
        withdrawOnFailure: true,
        deadline,
      },
      data.interactions.length,
    )
      .then(
        () => batch.forEach((b) => b.done()),
        (error: unknown) => batch.forEach((b) => b.done(error)),
      )
      .finally(() => {
        inFlight -= 1;
        flush();
      });
  };

  /**
   * Adds signed job data, by `options.deadline` or not at all (see Producer.enqueue). `interactions`:
   * how many the job carries, for the outage log's counts.
   */
  async function add(name: JobName, data: object, options: EnqueueOptions = {}, interactions = 1): Promise<void> {
    const deadline = options.deadline ?? Date.now() + config.enqueueTimeoutMs;
    // Nothing is sent when there is no time left for it: nothing to withdraw either.
    if (connection.status !== 'ready' || deadline <= Date.now()) {
      const error = queueUnavailable();
      outage.failed(connection.status !== 'ready' ? `connection ${connection.status}` : error, interactions);
      throw error;
    }
    try {
      // Waiting for replicas, a job is added held back (delayed), so that no worker takes it before
      // it is acknowledged: a job answered 503 is withdrawn, never recorded. Once replicas hold it,
      // it is released; were the release lost in a failover, it would run when its delay ends.
      const held = config.redisMinReplicasAck > 0;
      const added = queue.add(name, data, {
        jobId: options.jobId,
        ...(options.deduplicationId && { deduplication: { id: options.deduplicationId } }),
        ...(jobDefinition(name)?.keepCompleted === false && { removeOnComplete: true }),
        ...(held && { delay: HELD_UNTIL_REPLICATED_MS }),
      });
      const job = await beforeDeadline(added, deadline);
      if (held) {
        await replicated(deadline);
        job
          .promote()
          .catch((error: unknown) =>
            logger.warn({ err: error, jobId: job.id }, 'could not release a held job; it runs when its delay ends'),
          );
      }
      outage.recovered();
    } catch (error) {
      outage.failed(error, interactions);
      // The add may still reach Redis (a stalled server that resumes): the remove queued behind it undoes it.
      if (options.jobId && options.withdrawOnFailure) queue.remove(options.jobId).catch(() => undefined);
      throw queueUnavailable(error);
    }
  }

  /**
   * Waits until REDIS_MIN_REPLICAS_ACK replicas hold every write this connection made so far (the
   * job just added among them), or throws by `deadline`: a job only the primary holds is lost if the
   * primary fails over before it replicates, so it is not acknowledged.
   */
  async function replicated(deadline: number): Promise<void> {
    const wanted = config.redisMinReplicasAck;
    // WAIT with a timeout of 0 would block for ever.
    const acked = await beforeDeadline((connection as Redis).wait(wanted, Math.max(1, deadline - Date.now() - 50)), deadline);
    if (acked < wanted) throw new Error(`${acked} of ${wanted} replicas acknowledged the job in time`);
  }

  const producer: Producer = {
    queue,
    connection,
    enqueueInteractions(payloads, deadline = Date.now() + config.enqueueTimeoutMs) {
      if (payloads.length === 0) return Promise.resolve();
      if (payloads.length > MAX_INTERACTIONS_PER_JOB) throw new RangeError(`At most ${MAX_INTERACTIONS_PER_JOB} interactions at once`);
      return new Promise<void>((resolve, reject) => {
        pending.push({ payloads, deadline, done: (error) => (error ? reject(error) : resolve()) });
        // After this turn of the event loop, so that requests read together go together.
        if (pending.length === 1) setImmediate(flush);
      });
    },
    signed(name, payload) {
      const data = jobPayloads[name].parse(payload) as JobPayload<typeof name>;
      return { ...data, sig: signJob(config.jobSigningKey, name, data) };
    },
    enqueue(name, payload, options = {}) {
      return add(name, producer.signed(name, payload), options);
    },
    async writable() {
      if (connection.status !== 'ready') return false;
      return connection.set(`${config.queuePrefix}:readiness`, String(process.pid), 'PX', 5000).then(
        () => true,
        () => false,
      );
    },
    async ping() {
      if (connection.status !== 'ready') return false;
      return connection.ping().then(
        () => true,
        () => false,
      );
    },
    async close() {
      clearTimeout(retry);
      inFlight = 0;
      flush();
      await queue.close().catch(() => undefined);
      closeRedis(connection);
    },
  };
  return producer;
}
