import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Config } from '../config';
import { ServiceUnavailableError } from '../errors';
import type { Logger } from '../logger';
import { defaultJobOptions, jobPayloads, QUEUES, type JobName, type JobPayload } from './definitions';

/** The one way jobs enter the queue. */
export interface Producer {
  /** Resolves once Redis has stored the job; throws ServiceUnavailableError when it cannot. */
  enqueue<N extends JobName>(name: N, payload: JobPayload<N>): Promise<void>;
  readonly queue: Queue;
  /** Whether Redis answers (for readiness probes). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function createProducer(config: Config, logger: Logger): Producer {
  // Fail fast rather than buffer: a request must learn within its deadline whether its job is
  // stored, so there is no offline queue, no resend after a reconnect, and a command timeout.
  const connection = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    commandTimeout: config.enqueueTimeoutMs,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 1000),
  });
  let lastErrorLog = 0;
  connection.on('error', (error) => {
    // ioredis reports every failed reconnect; one line every 10 s is enough to see an outage.
    if (Date.now() - lastErrorLog > 10_000) {
      lastErrorLog = Date.now();
      logger.warn({ err: error.message }, 'redis connection error (producer)');
    }
  });
  const queue = new Queue(QUEUES.interactions, {
    connection,
    prefix: config.queuePrefix,
    defaultJobOptions: defaultJobOptions(config),
  });
  queue.on('error', () => undefined); // already reported by the connection

  return {
    queue,
    async enqueue(name, payload) {
      if (connection.status !== 'ready') {
        throw new ServiceUnavailableError('The interaction queue is unavailable; retry shortly');
      }
      const data = jobPayloads[name].parse(payload);
      try {
        await queue.add(name, data, { jobId: data.id });
      } catch (error) {
        logger.warn({ err: error, jobId: data.id }, 'enqueue failed');
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
