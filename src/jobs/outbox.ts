import type { Knex } from 'knex';
import type { Db } from '../data/db';
import type { Logger } from '../ops/logger';
import { OutageLog } from '../ops/outage-log';
import { jobPayloads, type JobName, type JobPayload } from './definitions';
import { DrainLoop } from './drain-loop';
import type { Producer } from './producer';

/**
 * Queues a job as part of the caller's transaction: it is written to the outbox table and relayed
 * to BullMQ after commit. Committed, it is delivered (even if Redis is down now, or the process
 * dies right after the commit); rolled back, it never existed. Delivery is at least once, with
 * `jobId` as the job's id, so the job must be idempotent.
 */
export async function enqueueInTransaction<N extends JobName>(
  trx: Knex.Transaction,
  name: N,
  payload: JobPayload<N>,
  options: { jobId: string },
): Promise<void> {
  const data = jobPayloads[name].parse(payload);
  await trx('outbox').insert({ jobName: name, jobId: options.jobId, payload: JSON.stringify(data) });
}

/** Moves committed outbox rows to the queue; any number of relays may run (rows are claimed with SKIP LOCKED). */
export class OutboxRelay {
  private readonly loop: DrainLoop;

  constructor(
    private readonly db: Db,
    private readonly producer: Pick<Producer, 'enqueue'>,
    logger: Logger,
    /** `onFailure`: a relay attempt failed (Redis away, say); its rows stay for the next. */
    private readonly options: { intervalMs?: number; batchSize?: number; onFailure?: () => void } = {},
  ) {
    // Logged by changes of state: with PostgreSQL away it fails every few seconds.
    const outage = new OutageLog(logger, 'outbox relay');
    this.loop = new DrainLoop(() => this.relayOnce(), {
      intervalMs: options.intervalMs ?? 1000,
      onFailure: (error) => {
        outage.failed(error);
        options.onFailure?.();
      },
      onSuccess: () => outage.recovered(),
    });
  }

  /** Relays now and then every `intervalMs`, until `stop`. */
  start(): void {
    this.loop.start();
  }

  /** Asks for a relay soon (after a commit that wrote to the outbox); calls made meanwhile coalesce. */
  kick(): void {
    this.loop.kick();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Relays one batch; returns how many rows it moved. */
  async relayOnce(): Promise<number> {
    return this.db.transaction(async (trx) => {
      const { rows } = await trx.raw<{ rows: { id: string; jobName: JobName; jobId: string; payload: unknown }[] }>(
        `select id, job_name as "jobName", job_id as "jobId", payload from outbox order by id limit ? for update skip locked`,
        [this.options.batchSize ?? 100],
      );
      for (const row of rows) {
        // If this process dies after the add and before the delete commits, the row is relayed
        // again; the job id and the worker's idempotent insert make the second delivery a no-op.
        await this.producer.enqueue(row.jobName, row.payload as never, { jobId: row.jobId });
      }
      if (rows.length > 0)
        await trx('outbox')
          .whereIn(
            'id',
            rows.map((r) => r.id),
          )
          .delete();
      return rows.length;
    });
  }
}
