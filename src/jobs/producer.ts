import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import { createFailFastRedis } from '../data/redis';
import { ServiceUnavailableError } from '../errors';
import type { Logger } from '../logger';
import { defaultJobOptions, jobPayloads, QUEUES, type JobName, type JobPayload } from './definitions';

/** The one way jobs enter the queue. */
export interface Producer {
  /**
   * Resolves once Redis has stored the job; throws ServiceUnavailableError when it cannot.
   * `jobId` makes a retried enqueue a no-op; `deduplicationId` keeps one such job waiting or running.
   * `withdrawOnFailure`: when Redis does not confirm in time, also ask it to drop the job, so that
   * a 503 does not leave a job behind (only for a job id no one else can have used).
   */
  enqueue<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    options?: { jobId?: string; deduplicationId?: string; withdrawOnFailure?: boolean },
  ): Promise<void>;
  readonly queue: Queue;
  /** The producer's own Redis connection (fail-fast: no offline queue). */
  readonly connection: Redis;
  /** Whether Redis answers (for readiness probes). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function createProducer(config: Config, logger: Logger): Producer {
  const connection = createFailFastRedis(config.redisUrl, { commandTimeoutMs: config.enqueueTimeoutMs, label: 'producer' }, logger);
  const queue = new Queue(QUEUES.interactions, {
    connection,
    prefix: config.queuePrefix,
    defaultJobOptions: defaultJobOptions(config),
  });
  queue.on('error', () => undefined); // already reported by the connection

  return {
    queue,
    connection,
    async enqueue(name, payload, options = {}) {
      if (connection.status !== 'ready') {
        throw new ServiceUnavailableError('The interaction queue is unavailable; retry shortly');
      }
      const data = jobPayloads[name].parse(payload);
      try {
        await queue.add(name, data, {
          jobId: options.jobId,
          ...(options.deduplicationId && { deduplication: { id: options.deduplicationId } }),
        });
      } catch (error) {
        logger.warn({ err: error, jobName: name, jobId: options.jobId }, 'enqueue failed');
        // The add may still reach Redis (a stalled server that resumes): the remove queued behind it undoes it.
        if (options.jobId && options.withdrawOnFailure) queue.remove(options.jobId).catch(() => undefined);
        throw new ServiceUnavailableError('The interaction queue is unavailable; retry shortly', { cause: error });
      }
    },
    async ping() {
      if (connection.status !== 'ready') return false;
      return connection.ping().then(
        () => true,
        () => false,
      );
    },
    async close() {
      await queue.close().catch(() => undefined);
      connection.disconnect();
    },
  };
}
